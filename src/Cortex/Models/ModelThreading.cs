namespace Cortex.Models;

/// <summary>Which threads may use a model at once (see the remarks on <see cref="Model"/>).</summary>
public abstract partial class Model
{
    // Changing operations (Fit, SetWeights, Compile, Add, Pop, Build, a first call that builds) hold the model
    // exclusively; reading ones (Call, Predict, Evaluate, GetWeights, Save) share it. Holders are counted rather than
    // locked: a use from another thread while the model is held exclusively throws at once instead of waiting for a
    // Fit that may run for hours, and an exclusive holder waits only for the reads already in flight, which run no
    // user code and so always finish. The counters cost two interlocked operations per Call.
    private int exclusiveThread;              // managed thread id holding the model exclusively; 0 when none
    private volatile string exclusiveOperation = "";
    private int exclusiveDepth;               // nested exclusive uses on that thread (SetWeights in a Fit callback)
    private int sharedUses;                   // reads in flight, on any thread

    /// <summary>One use of the model, released on dispose.</summary>
    private protected readonly struct ModelUse(Model model, bool exclusive) : IDisposable
    {
        public void Dispose()
        {
            if (model == null) return;
            if (!exclusive)
            {
                Interlocked.Decrement(ref model.sharedUses);
                return;
            }
            if (--model.exclusiveDepth > 0) return;
            model.exclusiveOperation = "";
            Volatile.Write(ref model.exclusiveThread, 0);
        }
    }

    /// <summary>
    /// Enters <paramref name="operation"/>: shared (any number of threads at once) or exclusive (one thread, after the
    /// other threads' reads in flight have finished). The thread that holds the model exclusively may use it in any way,
    /// as Fit's callbacks and validation do.
    /// </summary>
    /// <exception cref="InvalidOperationException">Another thread holds the model exclusively (or, for an exclusive use,
    /// is entering it too).</exception>
    private protected ModelUse Use(string operation, bool exclusive)
    {
        WarmUp.UserWorkStarting(operation);
        int me = Environment.CurrentManagedThreadId;
        if (!exclusive)
        {
            // Count first, then look: an exclusive holder that set its id before our count sees us and waits; one that
            // sets it after sees our count. Either way no read overlaps a change.
            Interlocked.Increment(ref sharedUses);
            int holder = Volatile.Read(ref exclusiveThread);
            if (holder != 0 && holder != me)
            {
                Interlocked.Decrement(ref sharedUses);
                throw Busy(operation);
            }
            return new ModelUse(this, exclusive: false);
        }
        if (Volatile.Read(ref exclusiveThread) == me)
        {
            exclusiveDepth++;
            ForgetInference();
            return new ModelUse(this, exclusive: true);
        }
        if (Interlocked.CompareExchange(ref exclusiveThread, me, 0) != 0) throw Busy(operation);
        exclusiveOperation = operation;
        exclusiveDepth = 1;
        var spin = new SpinWait();
        while (Volatile.Read(ref sharedUses) != 0) spin.SpinOnce();
        // After the reads have drained (a Predict running puts its stages back when it returns), before the change:
        // a change (training, building, loading, a new layer) may change what Predict's stages compute.
        ForgetInference();
        return new ModelUse(this, exclusive: true);
    }

    /// <summary>A read, or an exclusive use when the model still has to build (building changes it).</summary>
    private protected ModelUse UseToRead(string operation) => Use(operation, exclusive: !Built);

    private InvalidOperationException Busy(string operation)
    {
        string holder = exclusiveOperation;
        string what = holder switch
        {
            "Fit" => "is being trained by Fit on another thread",
            "" => "is being changed on another thread",
            _ => $"is being changed by {holder} on another thread",
        };
        return new InvalidOperationException(
            $"Model '{Name}' {what}; {operation} cannot use it until {(holder == "" ? "that" : holder)} returns. " +
            "A model is used by one thread at a time while it changes: call Predict, Evaluate or Save from Fit's callbacks, " +
            "or after Fit returns, or train a copy (Model.Load of a saved file) on the other thread.");
    }

    /// <summary>
    /// Runs <paramref name="body"/>; if it throws while the model was unbuilt, the layers it built are returned to
    /// unbuilt, so a call that fails its checks leaves the model as it was (not built for the rejected data's shape).
    /// </summary>
    private protected T RollBackBuildOnFailure<T>(Func<T> body)
    {
        if (Built) return body();
        var unbuilt = layers.Where(l => !l.Built).ToArray();
        try { return body(); }
        catch
        {
            foreach (var l in unbuilt) l.Unbuild();
            throw;
        }
    }
}
