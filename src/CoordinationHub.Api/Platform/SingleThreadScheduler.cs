using System.Runtime.InteropServices;

namespace CoordinationHub.Platform;

/// <summary>
/// Runs work (and the continuations of its awaits) on one dedicated thread instead of the thread pool, optionally at a
/// lower priority on Linux (nice 10 for background work: when the cores are busy, the request threads win them). Work
/// that holds its thread for milliseconds (SQLite's writer) no longer holds one of the pool's few threads meanwhile,
/// with requests queued behind it. Code awaited with <c>ConfigureAwait(false)</c> inside libraries still continues on the pool.
/// </summary>
public sealed class SingleThreadScheduler : TaskScheduler, IDisposable
{
    private readonly int nice;

    // A plain queue and Monitor.Wait: BlockingCollection's SemaphoreSlim spins with sched_yield before it sleeps,
    // which a profile of the dispatcher showed as 3 % of the process's CPU on this VM (a yield is a costly switch).
    private readonly Queue<Task> queue = [];
    private bool completed;

    /// <param name="nice">The thread's nice value on Linux: 0 for the normal priority, 10 for background work.</param>
    public SingleThreadScheduler(string name, int nice)
    {
        this.nice = nice;
        new Thread(Run) { IsBackground = true, Name = name }.Start();
    }

    /// <summary>Starts <paramref name="work"/> on this scheduler: its awaits continue here too.</summary>
    public Task RunAsync(Func<Task> work) =>
        Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.DenyChildAttach, this).Unwrap();

    private void Run()
    {
        try
        {
            if (OperatingSystem.IsLinux() && nice != 0) _ = SetPriority(0, GetThreadId(), nice); // PRIO_PROCESS of a tid: this thread only
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
            if (completed)
            {
                // Disposed (the host is stopping): what still comes runs on the pool rather than never.
                ThreadPool.UnsafeQueueUserWorkItem(_ => TryExecuteTask(task), null);
                return;
            }
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
