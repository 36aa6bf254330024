using System.Buffers;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using NanoBanana.Infrastructure.Http;

namespace NanoBanana.Tests.Infrastructure.Http;

public sealed class ReceiveBlocksTests(AppFixture app) : IntegrationContext(app)
{
    [Fact]
    public void The_apps_kestrel_takes_its_connection_buffers_from_the_receive_blocks()
    {
        var factory = Host.Services.GetRequiredService<IMemoryPoolFactory<byte>>();

        using var pool = Assert.IsType<ReceiveBlocks>(factory).Create();
        Assert.Equal(32 * 1024, pool.MaxBufferSize);
    }

    [Fact]
    public void A_rent_of_any_size_up_to_a_block_gets_a_whole_block_and_a_larger_one_is_refused()
    {
        using var pool = new ReceiveBlocks().Create();

        using var any = pool.Rent();
        using var small = pool.Rent(2048);
        Assert.Equal((ReceiveBlocks.BlockSize, ReceiveBlocks.BlockSize), (any.Memory.Length, small.Memory.Length));
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(ReceiveBlocks.BlockSize + 1));
    }

    [Fact]
    public void Returned_blocks_are_rented_again_up_to_the_retained_count_and_the_rest_are_let_go()
    {
        using var pool = new ReceiveBlocks().Create();
        var first = Enumerable.Range(0, ReceiveBlocks.RetainedBlocks + 10).Select(_ => pool.Rent()).ToList();
        var arrays = first.Select(Array).ToHashSet();
        foreach (var block in first) block.Dispose();

        var second = Enumerable.Range(0, ReceiveBlocks.RetainedBlocks + 10).Select(_ => pool.Rent()).ToList();

        Assert.Equal(ReceiveBlocks.RetainedBlocks, second.Count(b => arrays.Contains(Array(b))));
        foreach (var block in second) block.Dispose();
    }

    static byte[] Array(IMemoryOwner<byte> block) =>
        System.Runtime.InteropServices.MemoryMarshal.TryGetArray<byte>(block.Memory, out var segment) ? segment.Array! : throw new InvalidOperationException();
}
