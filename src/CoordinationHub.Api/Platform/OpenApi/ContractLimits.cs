using System.Collections;
using System.Globalization;
using System.Reflection;
using FluentValidation;
using FluentValidation.Validators;
using Microsoft.OpenApi;

namespace CoordinationHub.Platform.OpenApi;

/// <summary>
/// The limits the contract declares, read from the FluentValidation validators registered in DI, so
/// that contract and validation cannot drift. What no rule covers gets a documented default bound.
/// </summary>
public sealed class ContractLimits
{
    /// <summary>Free text no rule bounds: the longest text the API accepts (a convention's object).</summary>
    public const int DefaultMaxLength = 4000;
    /// <summary>Lists no rule bounds: none is longer than the communes of France (~35,000).</summary>
    public const int DefaultMaxItems = 40_000;
    public const string DefaultsDescription = """
        **Limits.** Every string declares `maxLength` and every array `maxItems`, the same numbers the server validates.
        Where no rule applies, strings are at most 4000 characters of free text (no control character but tab and line breaks), lists at most 40,000 items, and integers within their
        format's range. Identifiers are UUIDs (36 characters), dates `YYYY-MM-DD`, instants ISO 8601 with offset.
        """;

    private readonly Dictionary<(Type Type, string Property), Limit> limits = [];

    public ContractLimits(IServiceProvider services)
    {
        foreach (var scan in AssemblyScanner.FindValidatorsInAssemblyContaining<ContractLimits>())
        foreach (var validator in services.GetServices(scan.InterfaceType).OfType<IValidator>())
            Read(validator, []);
    }

    /// <summary>The limit on a property of a type (or of an interface it implements), if a validator sets one.</summary>
    public Limit? For(Type type, string property)
    {
        Limit? merged = null;
        foreach (var t in type.GetInterfaces().Prepend(type))
            if (limits.TryGetValue((t, property), out var limit)) merged = merged is null ? limit : merged.With(limit);
        return merged;
    }

    /// <summary>Every (type, property) a validator bounds, for the test comparing validators and contract.</summary>
    public IReadOnlyDictionary<(Type Type, string Property), Limit> All => limits;

    private void Read(IValidator validator, HashSet<IValidator> seen)
    {
        if (!seen.Add(validator)) return;
        foreach (var rule in validator.CreateDescriptor().Rules)
        foreach (var component in rule.Components)
        {
            if (component.Validator is IChildValidatorAdaptor child)
            {
                // Include(), SetValidator() and ChildRules() hold the child validator in a private field.
                if (ChildValidator(child) is { } inner) Read(inner, seen);
                continue;
            }
            if (rule.Member is not PropertyInfo member || member.DeclaringType is null) continue;
            var each = rule.GetType().GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition().Name.StartsWith("ICollectionRule", StringComparison.Ordinal));
            var key = (member.DeclaringType, member.Name);
            var limit = limits.GetValueOrDefault(key) ?? new Limit();
            var target = each ? limit.Items ??= new Limit() : limit;
            Apply(target, component.Validator);
            limits[key] = limit;
        }
    }

    private static void Apply(Limit limit, IPropertyValidator validator)
    {
        switch (validator)
        {
            case ILengthValidator length:
                if (length.Max > 0) limit.MaxLength = Math.Min(limit.MaxLength ?? int.MaxValue, length.Max);
                if (length.Min > 0) limit.MinLength = Math.Max(limit.MinLength ?? 0, length.Min);
                break;
            case INotEmptyValidator:
                limit.MinLength = Math.Max(limit.MinLength ?? 0, 1);
                break;
            case IRegularExpressionValidator regex:
                limit.Pattern = regex.Expression;
                break;
            case IMaxItemsValidator items:
                limit.MaxItems = items.Max;
                break;
            case IBetweenValidator between when Number(between.From) is { } from && Number(between.To) is { } to:
                var exclusive = validator.GetType().Name.StartsWith("Exclusive", StringComparison.Ordinal);
                (limit.Minimum, limit.Maximum, limit.ExclusiveMinimum, limit.ExclusiveMaximum) = (from, to, exclusive, exclusive);
                break;
            case IComparisonValidator { MemberToCompare: null } comparison when Number(comparison.ValueToCompare) is { } value:
                switch (comparison.Comparison)
                {
                    case Comparison.GreaterThan: (limit.Minimum, limit.ExclusiveMinimum) = (value, true); break;
                    case Comparison.GreaterThanOrEqual: (limit.Minimum, limit.ExclusiveMinimum) = (value, false); break;
                    case Comparison.LessThan: (limit.Maximum, limit.ExclusiveMaximum) = (value, true); break;
                    case Comparison.LessThanOrEqual: (limit.Maximum, limit.ExclusiveMaximum) = (value, false); break;
                }
                break;
        }
    }

    private static decimal? Number(object? value) => value switch
    {
        int or long or short or decimal or double or float => Convert.ToDecimal(value, CultureInfo.InvariantCulture),
        _ => null,
    };

    private static IValidator? ChildValidator(IChildValidatorAdaptor adaptor)
    {
        for (var type = adaptor.GetType(); type is not null; type = type.BaseType)
            foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.NonPublic))
                if (field.GetValue(adaptor) is IValidator validator) return validator;
        return null;
    }

    /// <summary>Writes what a validator says of a property on its inline schema (and on its items).</summary>
    public static void Write(OpenApiSchema schema, Limit limit)
    {
        if (limit.MaxLength is { } maxLength) schema.MaxLength = maxLength;
        if (limit.MinLength is { } minLength && schema.Format is null) schema.MinLength = minLength;
        if (limit.Pattern is { } pattern) schema.Pattern = pattern;
        if (limit.MaxItems is { } maxItems) schema.MaxItems = maxItems;
        if (limit.Minimum is { } minimum)
        {
            if (limit.ExclusiveMinimum) schema.ExclusiveMinimum = Text(minimum);
            else schema.Minimum = Text(minimum);
        }
        if (limit.Maximum is { } maximum)
        {
            if (limit.ExclusiveMaximum) schema.ExclusiveMaximum = Text(maximum);
            else schema.Maximum = Text(maximum);
        }
        if (limit.Items is { } items && schema.Items is OpenApiSchema itemSchema) Write(itemSchema, items);
    }

    /// <summary>The documented default bound where no rule set one, on a schema and every inline schema in it.</summary>
    public static void Defaults(IOpenApiSchema? candidate)
    {
        if (candidate is not OpenApiSchema schema) return;
        var type = schema.Type ?? 0;
        if (type.HasFlag(JsonSchemaType.String) && schema.Enum is not { Count: > 0 })
            schema.MaxLength ??= schema.Format switch { "uuid" => 36, "date" => 10, "date-time" => 33, _ => DefaultMaxLength };
        // Free text: the characters the server accepts (FreeText), declared where no format or pattern says more.
        if (type.HasFlag(JsonSchemaType.String) && schema.Enum is not { Count: > 0 } && schema.Format is null && schema.Pattern is null)
            schema.Pattern = Http.FreeText.Pattern;
        if (type.HasFlag(JsonSchemaType.Integer) && schema.Minimum is null && schema.ExclusiveMinimum is null)
            schema.Minimum = schema.Format == "int64" ? Text(long.MinValue) : Text(int.MinValue);
        if (type.HasFlag(JsonSchemaType.Integer) && schema.Maximum is null && schema.ExclusiveMaximum is null)
            schema.Maximum = schema.Format == "int64" ? Text(long.MaxValue) : Text(int.MaxValue);
        if (type.HasFlag(JsonSchemaType.Array)) schema.MaxItems ??= DefaultMaxItems;
        Defaults(schema.Items);
        foreach (var property in schema.Properties?.Values ?? []) Defaults(property);
        foreach (var part in (schema.AllOf ?? []).Concat(schema.AnyOf ?? []).Concat(schema.OneOf ?? [])) Defaults(part);
        if (schema.AdditionalProperties is { } additional) Defaults(additional);
    }

    private static string Text(decimal value) => value.ToString(CultureInfo.InvariantCulture);

    public sealed class Limit
    {
        public int? MaxLength { get; set; }
        public int? MinLength { get; set; }
        public string? Pattern { get; set; }
        public decimal? Minimum { get; set; }
        public decimal? Maximum { get; set; }
        public bool ExclusiveMinimum { get; set; }
        public bool ExclusiveMaximum { get; set; }
        public int? MaxItems { get; set; }
        /// <summary>Rules on each item of a list (RuleForEach).</summary>
        public Limit? Items { get; set; }

        /// <summary>This limit completed by another's (rules of a class and of the interfaces it implements).</summary>
        public Limit With(Limit other) => new()
        {
            MaxLength = MaxLength ?? other.MaxLength, MinLength = MinLength ?? other.MinLength, Pattern = Pattern ?? other.Pattern,
            Minimum = Minimum ?? other.Minimum, Maximum = Maximum ?? other.Maximum, MaxItems = MaxItems ?? other.MaxItems,
            ExclusiveMinimum = Minimum is null ? other.ExclusiveMinimum : ExclusiveMinimum,
            ExclusiveMaximum = Maximum is null ? other.ExclusiveMaximum : ExclusiveMaximum,
            Items = Items is null ? other.Items : other.Items is null ? Items : Items.With(other.Items),
        };
    }
}

/// <summary>A list bound the contract can read (a Must(l => l.Count &lt;= n) cannot be read).</summary>
public interface IMaxItemsValidator
{
    int Max { get; }
}

public sealed class MaxItemsValidator<T, TList>(int max) : PropertyValidator<T, TList>, IMaxItemsValidator
    where TList : IEnumerable?
{
    public int Max { get; } = max;
    public override string Name => "MaxItemsValidator";

    public override bool IsValid(ValidationContext<T> context, TList value) =>
        value is null || (value is ICollection c ? c.Count : value.Cast<object?>().Count()) <= Max;

    protected override string GetDefaultMessageTemplate(string errorCode) => $"At most {Max} items.";
}

public static class MaxItemsRule
{
    public static IRuleBuilderOptions<T, TList> MaxItems<T, TList>(this IRuleBuilder<T, TList> rule, int max)
        where TList : IEnumerable? =>
        rule.SetValidator(new MaxItemsValidator<T, TList>(max));
}
