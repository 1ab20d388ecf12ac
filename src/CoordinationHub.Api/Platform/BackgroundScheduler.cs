using System.Runtime.InteropServices;

namespace CoordinationHub.Platform;

/// <summary>
/// Runs background work (and the continuations of its awaits) on one dedicated thread, which on Linux is given a
/// lower priority (nice 10): when the cores are busy, the request threads win them, and the background work takes
/// what they leave. Code awaited with <c>ConfigureAwait(false)</c> inside libraries still continues on the pool.
/// </summary>
public sealed class BackgroundScheduler : TaskScheduler, IDisposable
{
    // A plain queue and Monitor.Wait: BlockingCollection's SemaphoreSlim spins with sched_yield before it sleeps,
    // which a profile of the dispatcher showed as 3 % of the process's CPU on this VM (a yield is a costly switch).
    private readonly Queue<Task> queue = [];
    private bool completed;

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
        while (Take() is { } task) TryExecuteTask(task);
    }

    private Task? Take()
    {
        lock (queue)
        {
            while (queue.Count == 0)
            {
                if (completed) return null;
                Monitor.Wait(queue);
            }
            return queue.Dequeue();
        }
    }

    protected override void QueueTask(Task task)
    {
        lock (queue)
        {
            if (completed) throw new InvalidOperationException("The scheduler is disposed.");
            queue.Enqueue(task);
            if (queue.Count == 1) Monitor.Pulse(queue);
        }
    }

    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) => false;

    protected override IEnumerable<Task> GetScheduledTasks()
    {
        lock (queue) return queue.ToArray();
    }

    public void Dispose()
    {
        lock (queue)
        {
            completed = true;
            Monitor.PulseAll(queue);
        }
    }

    [DllImport("libc", EntryPoint = "setpriority")]
    private static extern int SetPriority(int which, int who, int priority);

    [DllImport("libc", EntryPoint = "gettid")]
    private static extern int GetThreadId();
}
