using System.Net;
using System.Text.RegularExpressions;

namespace CoordinationHub.Tests.Platform;

/// <summary>
/// What a newcomer meets first: the guides served beside the contract, and a product without its test bench
/// (the benchmark composes its own host: tests/CoordinationHub.Benchmarks/BenchHost.cs).
/// </summary>
public abstract class FrontDoorTests(ApiFixture fx) : ApiTests(fx)
{
    [Theory]
    [InlineData("GET", "/bench/map")]
    [InlineData("GET", "/bench/runtime")]
    [InlineData("GET", "/bench/writer")]
    [InlineData("GET", "/bench/baseline/0193a8e2-0000-7000-8000-000000000001")]
    [InlineData("POST", "/bench/baseline/referral")]
    [InlineData("POST", "/bench/floor/referral")]
    public async Task The_published_API_has_no_benchmark_route(string method, string path)
    {
        // Even with the switch the product once read, and with the platform administrator's key.
        await using var factory = Fx.CreateFactory(Fx.ConnectionString, startupTasks: false,
            settings: new Dictionary<string, string> { ["Benchmark:Enabled"] = "true" });
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", Fx.AdminKey);
        var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method == "POST") request.Content = new StringContent("{}", System.Text.Encoding.UTF8, "application/json");
        var response = await client.SendAsync(request);
        Assert.True(response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed,
            $"{method} {path} answered {(int)response.StatusCode}: the benchmark's endpoints belong to its own host");
    }

    [Fact]
    public async Task Every_guide_is_served_as_Markdown_beside_the_contract_and_listed()
    {
        var client = Fx.Client();
        var index = await client.GetAsync("/guides");
        Assert.Equal(HttpStatusCode.OK, index.StatusCode);
        Assert.Equal("text/markdown", index.Content.Headers.ContentType?.MediaType);
        var listed = await index.Content.ReadAsStringAsync();
        foreach (var file in Directory.GetFiles(Path.Combine(GuideBlocks.Root, "openapi", "guides"), "*.md"))
        {
            var name = Path.GetFileName(file);
            Assert.Contains($"(/guides/{name})", listed);
            var guide = await client.GetAsync($"/guides/{name}");
            Assert.Equal(HttpStatusCode.OK, guide.StatusCode);
            Assert.Equal("text/markdown", guide.Content.Headers.ContentType?.MediaType);
            Assert.Equal(File.ReadAllText(file), await guide.Content.ReadAsStringAsync());
            // Without the extension too: links from the contract's description read better.
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/guides/{Path.GetFileNameWithoutExtension(name)}")).StatusCode);
        }
    }

    [Theory]
    [InlineData("/guides/no-such-guide.md")]
    [InlineData("/guides/..%2Fappsettings.json")]
    [InlineData("/guides/..%2F..%2FREADME.md")]
    [InlineData("/guides/webhook-receiver.mjs")]
    public async Task Nothing_but_a_guide_is_served_under_guides(string path)
    {
        var response = await Fx.Client().GetAsync(path);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public void The_contract_description_links_the_guides()
    {
        var contract = File.ReadAllText(Path.Combine(GuideBlocks.Root, "openapi", "coordinationhub.v1.json"));
        Assert.Contains("[/guides](/guides)", contract);
        Assert.DoesNotContain("\"/guides", contract); // served beside the contract, not part of it
    }
}

[Collection(SqliteCollection.Name)] public sealed class FrontDoorTests_Sqlite(SqliteFixture f) : FrontDoorTests(f);
[Collection(PostgresCollection.Name)] public sealed class FrontDoorTests_Postgres(PostgresFixture f) : FrontDoorTests(f);

/// <summary>Rules on the sources and the docs themselves: no database needed.</summary>
public sealed class FrontDoorSourceTests
{
    [Fact]
    public void No_source_of_the_product_reads_a_Benchmark_setting_or_header()
    {
        var offenders = Directory.GetFiles(Path.Combine(GuideBlocks.Root, "src"), "*", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}")
                        && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}")
                        && (f.EndsWith(".cs") || f.EndsWith(".json") || f.EndsWith(".csproj")))
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (f, i, line)))
            .Where(x => Regex.IsMatch(x.line, @"""Benchmark[:_]|Benchmark__|X-Benchmark|/bench/|MapBenchmark|class Benchmark\b"))
            .Select(x => $"{Path.GetRelativePath(GuideBlocks.Root, x.f)}:{x.i + 1}: {x.line.Trim()}")
            .ToList();
        Assert.True(offenders.Count == 0, "The product reads benchmark switches or maps benchmark routes:\n" + string.Join("\n", offenders));
    }

    [Fact]
    public void The_README_walk_through_is_run_and_every_block_left_out_says_why()
    {
        var readme = GuideBlocks.Extract(Path.Combine(GuideBlocks.Root, "README.md"));
        var run = readme.Where(b => b.Runs).ToList();
        Assert.True(run.Count >= 4, $"the README's walk-through should be run by GuideCommandTests; {run.Count} blocks are");
        Assert.Contains(run, b => b.Text.Contains("webhook-receiver.mjs") && b.Text.Contains("webhook-subscriptions"));
        Assert.Contains(run, b => b.Text.Contains("act completion"));
        Assert.Contains("tests/run.sh", string.Concat(readme.Select(b => b.Text)));
        foreach (var file in GuideBlocks.Files())
            foreach (var block in GuideBlocks.Extract(file).Where(b => b.Reason is not null))
                Assert.True(block.Reason!.Length >= 10,
                    $"{Path.GetFileName(file)}, line {block.Line}: a block not run says why (<!-- not run: the reason -->)");
    }

    [Fact]
    public void The_front_doors_stay_short()
    {
        Assert.InRange(new FileInfo(Path.Combine(GuideBlocks.Root, "README.md")).Length, 1, 15 * 1024);
        Assert.InRange(new FileInfo(Path.Combine(GuideBlocks.Root, "tests", "CoordinationHub.Benchmarks", "README.md")).Length, 1, 12 * 1024);
    }
}
