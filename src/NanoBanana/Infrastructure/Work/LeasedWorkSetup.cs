using JasperFx;
using JasperFx.CodeGeneration;
using JasperFx.CodeGeneration.Frames;
using Wolverine;
using Wolverine.Configuration;
using Wolverine.Runtime.Handlers;

namespace NanoBanana.Infrastructure.Work;

/// <summary>The lease of one run of a leased handler: taken before it runs, acknowledged when it returns, unless settled otherwise.</summary>
public sealed class WorkLease(ILeasedWork work)
{
    public ILeasedWork Work => work;
    /// <summary>Settled by the handler's answer (postponed): not acknowledged as done.</summary>
    public bool Settled { get; internal set; }
}

/// <summary>
/// Wraps every handler of an <see cref="ILeasedWork"/> message: takes the lease first (a live instance holding it
/// means the work runs there: this run stops), acknowledges the work when the handler returns, and lets the lease
/// lapse when it throws (the sweep hands the work out again after the lease).
/// </summary>
public static class LeasedWorkMiddleware
{
    public static async Task<(HandlerContinuation, WorkLease)> BeforeAsync(Envelope envelope, WorkLeases leases)
    {
        var work = (ILeasedWork)envelope.Message!;
        var taken = await leases.Take(work);
        return (taken ? HandlerContinuation.Continue : HandlerContinuation.Stop, new WorkLease(work));
    }

    public static Task AfterAsync(WorkLease lease, WorkLeases leases) => lease.Settled ? Task.CompletedTask : leases.Ack(lease.Work);

    public static void Finally(WorkLease lease, WorkLeases leases) => leases.Release(lease.Work);

    /// <summary>A handler's <see cref="RetryLater"/>: the work goes back to the store, due later.</summary>
    public static async Task Postpone(RetryLater? retry, WorkLease lease, WorkLeases leases)
    {
        if (retry is null) return;
        if (retry.Work.LeaseScope != lease.Work.LeaseScope || retry.Work.LeaseId != lease.Work.LeaseId)
            throw new InvalidOperationException("A handler retries its own work only (same scope and id).");
        await leases.Postpone(retry);
        lease.Settled = true;
    }
}

public static class LeasedWorkSetup
{
    /// <summary>Leases for every <see cref="ILeasedWork"/> handler, their renewal and the sweep that takes over lapsed work.</summary>
    public static void UseLeasedWork(this WolverineOptions opts)
    {
        opts.Services.AddSingleton<WorkLeases>();
        opts.Services.AddHostedService<WorkSweeper>();
        opts.Policies.AddMiddleware(typeof(LeasedWorkMiddleware), chain => chain.MessageType.IsAssignableTo(typeof(ILeasedWork)));
        opts.Policies.Add<RetryLaterPolicy>();
    }

    sealed class RetryLaterPolicy : IHandlerPolicy
    {
        public void Apply(IReadOnlyList<HandlerChain> chains, GenerationRules rules, IServiceContainer container)
        {
            var postpone = typeof(LeasedWorkMiddleware).GetMethod(nameof(LeasedWorkMiddleware.Postpone))!;
            foreach (var chain in chains)
            foreach (var returned in chain.ReturnVariablesOfType<RetryLater>())
                returned.UseReturnAction(v =>
                {
                    var call = new MethodCall(typeof(LeasedWorkMiddleware), postpone);
                    call.Arguments[0] = v;
                    return call;
                }, "The work goes back to the store, due later");
        }
    }
}

/// <summary>
/// Every instance, every tenth of a lease: renews the leases it holds, then takes over the due work of every scope
/// (a dead instance's, or postponed work due again) and runs it on its local queues. Its first sweep, at start-up,
/// is the recovery of the work a stopped process left. On a graceful stop it hands back the work it has not started.
/// </summary>
public sealed class WorkSweeper(WorkLeases leases, IServiceProvider services, IHostApplicationLifetime lifetime,
    ILogger<WorkSweeper> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stop)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var _ = lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        using var timer = new PeriodicTimer(leases.SweepInterval);
        try
        {
            await started.Task.WaitAsync(stop); // Wolverine's queues are up
            do await Round(stop);
            while (await timer.WaitForNextTickAsync(stop));
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        try { await leases.HandBack().WaitAsync(TimeSpan.FromSeconds(5), cancellationToken); }
        catch (Exception e) // Redis away or already closed, or out of time: nothing is lost, the leases lapse
        {
            log.LogWarning(e, "Work not started here could not be handed back on the way out: its leases lapse instead");
        }
    }

    async Task Round(CancellationToken stop)
    {
        try
        {
            await leases.Renew();
            var taken = await leases.Sweep();
            if (taken.Count == 0) return;
            // IMessageBus is scoped (Development validates scopes).
            await using var scope = services.CreateAsyncScope();
            var bus = scope.ServiceProvider.GetRequiredService<IMessageBus>();
            foreach (var work in taken) await bus.PublishAsync(work);
        }
        catch (Exception e) when (Redis.RedisFailures.IsUnavailable(e))
        {
            log.LogDebug(e, "Work sweep skipped: Redis is away (the leases wait for it)");
        }
        catch (Exception e) when (!stop.IsCancellationRequested)
        {
            log.LogError(e, "Work sweep failed");
        }
    }
}
