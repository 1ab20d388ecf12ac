namespace CoordinationHub.Platform.OpenApi;

/// <summary>
/// The schema's name in the partner contract, when the C# name is ours and not the integrators'
/// (a request record <c>CreateReferralCommand</c> is published as <c>ReferralDraft</c>).
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Enum, Inherited = false)]
public sealed class ContractNameAttribute(string name) : Attribute
{
    public string Name { get; } = name;

    /// <summary>The schema id: the attribute's name, else the type's, generic arguments first (Swashbuckle's default).</summary>
    public static string SchemaId(Type type)
    {
        var named = type.GetCustomAttributes(typeof(ContractNameAttribute), false) is [ContractNameAttribute a] ? a.Name : null;
        if (!type.IsConstructedGenericType) return named ?? type.Name;
        var name = named ?? type.Name[..type.Name.IndexOf('`')];
        return string.Concat(type.GetGenericArguments().Select(SchemaId)) + name;
    }
}

/// <summary>
/// The operations whose parameters a request type binds, when its name is not theirs (one query for the
/// "sent" and "received" lists): the contract takes those parameters' limits from its validator.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class ContractOperationsAttribute(params string[] operationIds) : Attribute
{
    public IReadOnlyList<string> OperationIds { get; } = operationIds;

    /// <summary>The operations of <paramref name="type"/>: those named on it, else its name without Query/Command.</summary>
    public static IReadOnlyList<string> Of(Type type) =>
        type.GetCustomAttributes(typeof(ContractOperationsAttribute), false) is [ContractOperationsAttribute named] ? named.OperationIds
        : type.Name.EndsWith("Query", StringComparison.Ordinal) ? [type.Name[..^5]]
        : type.Name.EndsWith("Command", StringComparison.Ordinal) ? [type.Name[..^7]]
        : [];
}
