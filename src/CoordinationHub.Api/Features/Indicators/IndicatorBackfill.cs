using CoordinationHub.Features.Referrals;
using CoordinationHub.Platform.Data;
using Dapper;

namespace CoordinationHub.Features.Indicators;

/// <summary>
/// Once, on the first start after migration 0017: counts the referrals written before the rollups existed, so a
/// database upgraded with its history gets its indicators. Each counts for its current part; the part an earlier
/// receiver had in a transfer made before the upgrade is not rebuilt. One transaction: all counted, or none.
/// </summary>
public sealed class IndicatorBackfill(Db db, ILogger<IndicatorBackfill> logger)
{
    public async Task<int> RunAsync(CancellationToken ct)
    {
        var counted = await db.InTransactionAsync(async (c, tx, t) =>
        {
            // Every counted referral has a row here: none while referrals exist means none was counted.
            if (await c.ExecuteScalarAsync<int>(db.Command(NothingToCountSql, null, t, tx)) == 1) return 0;
            var departements = (await c.QueryAsync<(Guid Id, string? Departement)>(db.Command(DepartementsSql, null, t, tx)))
                .ToDictionary(o => o.Id, o => o.Departement ?? "");
            var delta = new IndicatorRollup.Delta();
            var n = 0;
            // Streamed: the delta holds cells, not referrals.
            await foreach (var row in c.QueryUnbufferedAsync<ReferralRow>(ReferralsSql, transaction: tx).WithCancellation(t))
            {
                delta.Add(row, departements.GetValueOrDefault(row.CommuneId, ""), 1);
                n++;
            }
            await IndicatorRollup.WriteAsync(db, c, tx, delta, t);
            return n;
        }, ct);
        if (counted > 0) logger.LogInformation("Indicators: counted the {Count} referrals written before the rollups existed.", counted);
        return counted;
    }

    // Run at every start: EXISTS stops at the first row where COUNT(*) would read a million.
    private const string NothingToCountSql = """
        SELECT CASE WHEN EXISTS (SELECT 1 FROM referral_stat_departement) OR NOT EXISTS (SELECT 1 FROM referral)
                    THEN 1 ELSE 0 END
        """;
    private const string DepartementsSql = "SELECT id, departement_code FROM organisation WHERE kind = 'COMMUNE'";
    private const string ReferralsSql = $"SELECT {ReferralStore.Columns} FROM referral";
}
