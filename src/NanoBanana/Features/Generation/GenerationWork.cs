using Wolverine;

namespace NanoBanana.Features.Generation;

public static class GenerationWork
{
    /// <summary>
    /// Runs go to their own local queue: a run mostly waits on its provider, so many run at once per instance (the
    /// per-user quota bounds them per person). Its start and end commits run inline in the run.
    /// </summary>
    public const int Parallelism = 32;

    public static IServiceCollection AddGenerationWork(this IServiceCollection services) =>
        services.ConfigureWolverine(opts =>
        {
            opts.LocalQueue(RunGeneration.RunGenerationHandler.Queue).MaximumParallelMessages(Parallelism);
            opts.PublishMessage<RunGeneration.RunGeneration>().ToLocalQueue(RunGeneration.RunGenerationHandler.Queue);
        });
}
