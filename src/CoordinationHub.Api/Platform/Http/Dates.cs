namespace CoordinationHub.Platform.Http;

/// <summary>The calendar the API accepts: wide enough for any convention, narrow enough that renewals and day arithmetic cannot overflow.</summary>
public static class Dates
{
    public static readonly DateOnly Earliest = new(1900, 1, 1);
    public static readonly DateOnly Latest = new(2199, 12, 31);
    public const string OutOfRange = "Dates run from 1900-01-01 to 2199-12-31.";
}
