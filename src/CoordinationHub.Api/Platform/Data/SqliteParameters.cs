using System.Collections.Concurrent;
using System.Data;
using System.Linq.Expressions;
using System.Reflection;
using Dapper;

namespace CoordinationHub.Platform.Data;

/// <summary>
/// A parameter object's properties as SQLite parameters named as the SQL names them (<c>@departementCode</c> for
/// <c>DepartementCode</c>: SQLite matches names with regard to case), their values in the form the type handlers
/// give SQLite. Read by compiled getters: a create's referral row has 44 columns, and building a Dapper
/// <see cref="DynamicParameters"/> by reflection for it, then having Microsoft.Data.Sqlite look each unprefixed
/// name up twice (bare, then with <c>@</c>), was work done while the one writer is held.
/// </summary>
/// <remarks>
/// Only for objects whose properties are all plain values; one with a list (<c>IN @ids</c>, which Dapper
/// expands) goes through Dapper's own parameters (<see cref="Shape.Direct"/> is false).
/// </remarks>
internal sealed class SqliteParameters(object target, SqliteParameters.Shape shape) : SqlMapper.IDynamicParameters
{
    private static readonly ConcurrentDictionary<Type, Shape> Shapes = new();

    public static Shape Of(Type type) => Shapes.GetOrAdd(type, Shape.Build);

    public void AddParameters(IDbCommand command, SqlMapper.Identity identity)
    {
        foreach (var (name, get) in shape.Properties)
        {
            var p = command.CreateParameter();
            p.ParameterName = name;
            p.Value = TypeHandlers.ToSqlite(get(target));
            command.Parameters.Add(p);
        }
    }

    public sealed class Shape
    {
        /// <summary>Every property is a plain value, taken as it is by <see cref="TypeHandlers.ToSqlite"/>.</summary>
        public required bool Direct { get; init; }
        public required (string Name, Func<object, object?> Get)[] Properties { get; init; }
        /// <summary>The properties under their SQL names, without the prefix, for Dapper's parameters.</summary>
        public required (string Name, PropertyInfo Property)[] Named { get; init; }

        public static Shape Build(Type type)
        {
            var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .Where(p => p.GetIndexParameters().Length == 0)
                .ToArray();
            var named = properties.Select(p => (char.ToLowerInvariant(p.Name[0]) + p.Name[1..], p)).ToArray();
            var direct = properties.All(p => TypeHandlers.IsSqliteValue(p.PropertyType));
            return new Shape
            {
                Direct = direct,
                Properties = direct ? named.Select(n => ("@" + n.Item1, Getter(type, n.p))).ToArray() : [],
                Named = named,
            };
        }

        private static Func<object, object?> Getter(Type type, PropertyInfo property)
        {
            var target = Expression.Parameter(typeof(object));
            var value = Expression.Property(Expression.Convert(target, type), property);
            return Expression.Lambda<Func<object, object?>>(Expression.Convert(value, typeof(object)), target).Compile();
        }
    }
}
