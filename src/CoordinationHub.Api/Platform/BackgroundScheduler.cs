using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace CoordinationHub.Platform;

/// <summary>
/// Runs background work (and the continuations of its awaits) on one dedicated thread, which on Linux is given a
/// lower priority (nice 10): when the cores are busy, the request threads win them, and the background work takes
/// what they leave. Code awaited with <c>ConfigureAwait(false)</c> inside libraries still continues on the pool.
/// </summary>
public sealed class BackgroundScheduler : TaskScheduler, IDisposable
{
    private readonly BlockingCollection<Task> queue = [];

    public BackgroundScheduler(string name)
    {
        new Thread(Run) { IsBackground = true, Name = name }.Start();
    }

    /// <summary>Starts <paramref name="work"/> on this scheduler: its awaits continue here too.</summary>
    public Task RunAsync(Func<Task> work) =>
        Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.DenyChildAttach, this).Unwrap();

    private void Run()
    {
        try
        {
            if (OperatingSystem.IsLinux()) _ = SetPriority(0, GetThreadId(), 10); // PRIO_PROCESS of a tid: this thread only
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // A C library without gettid (glibc before 2.30): the thread keeps the normal priority.
        }
        foreach (var task in queue.GetConsumingEnumerable()) TryExecuteTask(task);
    }

    protected override void QueueTask(Task task) => queue.Add(task);

    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) => false;

    protected override IEnumerable<Task> GetScheduledTasks() => queue.ToArray();

    public void Dispose() => queue.CompleteAdding();

    [DllImport("libc", EntryPoint = "setpriority")]
    private static extern int SetPriority(int which, int who, int priority);

    [DllImport("libc", EntryPoint = "gettid")]
    private static extern int GetThreadId();
}
