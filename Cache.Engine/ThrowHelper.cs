using System.Diagnostics.CodeAnalysis;

namespace Cache.Engine;

/// <summary>Throws kept out of line (and marked as never returning), so that the methods that call them stay small enough to inline and the JIT lays out their hot path first.</summary>
internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void ThrowOptionOutOfRange(string option, object? value, string message) =>
        throw new ArgumentOutOfRangeException(option, value, message);

    [DoesNotReturn]
    public static void ThrowInsideStoreCallback(string operation) =>
        throw new InvalidOperationException($"{operation} cannot be called from inside a store callback that holds a key's lock.");

    [DoesNotReturn]
    public static void ThrowArgumentOutOfRange(string parameter, object? value, string message) =>
        throw new ArgumentOutOfRangeException(parameter, value, message);
}
