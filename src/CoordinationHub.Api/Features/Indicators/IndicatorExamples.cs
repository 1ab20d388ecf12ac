namespace CoordinationHub.Features.Indicators;

/// <summary>The contract's examples for the indicators (merged into ContractExamples): Nord, November 2026.</summary>
public static class IndicatorExamples
{
    private const string Source = "@etalab/decoupage-administratif@6.0.0";
    private static readonly IndicatorTerritory Nord = new(TerritoryLevel.DEPARTEMENT, "59", "Nord", 2_608_346, Source);
    private static readonly DateOnly From = new(2026, 10, 1), To = new(2026, 11, 30);

    private static IndicatorCell Count(long n) => IndicatorScope.Cell(n, false, Nord.Population);

    public static readonly NeedIndicators Needs = new(Nord, PeriodGrain.MONTH, From, To, NeedRows.COMPETENCE,
        new IndicatorSecrecy(true, 11),
        new IndicatorTable("COMPETENCE", ["2026-10", "2026-11"],
        [
            new IndicatorRow("FSL", "Fonds de solidarité pour le logement", Nord.Population,
                [IndicatorCell.Hidden, IndicatorCell.Hidden], Count(31)),
            new IndicatorRow("RSA_INSTRUCTION", "Instruction des demandes de RSA", Nord.Population,
                [IndicatorCell.Hidden, IndicatorCell.Hidden], Count(152)),
        ],
        [Count(88), Count(95)], Count(183)));

    private static readonly AnswerFigures Rsa = new("RSA_INSTRUCTION", new IndicatorCell(158, false),
        new IndicatorMeasure(20.4, false), new IndicatorMeasure(66.2, false), new IndicatorMeasure(12.5, false),
        new IndicatorMeasure(38.0, false), new IndicatorMeasure(0.8291, false), new IndicatorMeasure(0.0886, false),
        new IndicatorMeasure(0.0759, false), IndicatorMeasure.Hidden, new IndicatorMeasure(0.1013, false), IndicatorCell.Hidden);

    private static IndicatorTable ByCompetence(string[] codes, long?[] rsa)
    {
        IndicatorCell C(long? n) => n is { } v ? new IndicatorCell(v, false) : IndicatorCell.Hidden;
        return new IndicatorTable("COMPETENCE", codes,
            [new IndicatorRow("RSA_INSTRUCTION", "RSA_INSTRUCTION", null, [.. rsa.Select(C)], C(rsa.All(n => n is not null) ? rsa.Sum() : null))],
            [.. rsa.Select(C)], C(rsa.All(n => n is not null) ? rsa.Sum() : null));
    }

    public static readonly AnswerIndicators Answers = new(Nord, From, To, new DateTimeOffset(2026, 12, 1, 8, 0, 0, TimeSpan.Zero),
        new IndicatorSecrecy(true, 11), [Rsa], Rsa with { Competence = GetAnswerIndicatorsHandler.Total },
        ByCompetence(Enum.GetNames<Referrals.Outcome>(), [41, 27, 18, null, 0, null]),
        ByCompetence(Enum.GetNames<Referrals.DeclineReason>(), [12, null, 0, 0, null, 0]));

    public static readonly DelegationCoverage Coverage = new(Nord with { Population = 2_608_346 }, new DateOnly(2026, 11, 25),
        [new CompetenceCoverage("RSA_INSTRUCTION", 648, 93, 0.1435, 2_608_346, 1_180_020, 0.4524)],
        [new ExpiringConvention(Guid.Parse("0199b2c3-4d5e-7f60-8a1b-2c3d4e5f6a7b"), "CD59-RSA-2026-01", new DateOnly(2026, 12, 31), ["RSA_INSTRUCTION"])]);

    public static object? For(Type type) =>
        type == typeof(NeedIndicators) ? Needs
        : type == typeof(AnswerIndicators) ? Answers
        : type == typeof(DelegationCoverage) ? Coverage
        : null;

    public static string? Csv(string? operationId) => operationId switch
    {
        "GetNeedIndicators" or "GetOwnNeedIndicators" => IndicatorCsv.Needs(Needs),
        "GetAnswerIndicators" or "GetOwnAnswerIndicators" => IndicatorCsv.Answers(Answers),
        "GetDelegationCoverage" => IndicatorCsv.Coverage(Coverage),
        _ => null,
    };
}
