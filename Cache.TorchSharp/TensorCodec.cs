using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using System.Text.Unicode;
using TorchSharp;
using static TorchSharp.torch;

namespace Cache.TorchSharp;

/// <summary>
/// Turns a sample of named tensors into bytes and back: for each tensor its name, dtype, shape and
/// contiguous data (plus scale and zero point for a quantized tensor), so a sample read back is equal,
/// element for element, to the one written.
/// </summary>
/// <remarks>
/// <para>Every dtype of TorchSharp's <see cref="ScalarType"/> is supported, with any shape: a scalar
/// (no dimension), an empty tensor (a zero dimension), and any strided view (written as its
/// contiguous copy; a tensor on another device is copied to the CPU first). Quantized tensors must use
/// per-tensor affine quantization. Sparse tensors are refused with <see cref="NotSupportedException"/>.
/// Gradients and <c>requires_grad</c> are not kept: a sample is data.</para>
/// <para>Layout, little-endian: the magic <c>"TSC1"</c>, the tensor count (u32), then per tensor its
/// name (u16 length and UTF-8), dtype (u8, the <see cref="ScalarType"/> value), rank (u8, at most
/// <see cref="MaxRank"/>), each dimension (i64), for a quantized dtype its scale (f64) and zero point
/// (i64), and <c>numel * element size</c> bytes of data.</para>
/// <para>Reading checks every length against the bytes present before it allocates anything, so a
/// corrupt or hostile value is refused (a miss for the cache), never a crash or a huge allocation.</para>
/// <para>Thread-safety: all members are thread-safe. Tensors read back are new CPU tensors, owned by
/// the caller (and registered in the calling thread's dispose scope, if one is open); the input bytes
/// are never kept.</para>
/// </remarks>
public static class TensorCodec
{
    /// <summary>The largest rank (number of dimensions) accepted.</summary>
    public const int MaxRank = 64;

    /// <summary>The largest number of tensors in one sample.</summary>
    public const int MaxTensors = 4096;

    // Above any real element count, far below overflow when multiplied by an element size (16).
    private const long MaxElements = 1L << 56;

    private static ReadOnlySpan<byte> Magic => "TSC1"u8;

    /// <summary>Writes <paramref name="sample"/> to <paramref name="output"/>.</summary>
    /// <exception cref="NotSupportedException">A tensor is sparse, or quantized other than per tensor.</exception>
    /// <exception cref="ArgumentException">A name is longer than 65,535 UTF-8 bytes, a rank exceeds
    /// <see cref="MaxRank"/>, or the sample has more than <see cref="MaxTensors"/> tensors.</exception>
    public static void Write(IReadOnlyDictionary<string, Tensor> sample, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(output);
        if (sample.Count > MaxTensors)
        {
            throw new ArgumentException($"A sample holds at most {MaxTensors} tensors; this one has {sample.Count}.", nameof(sample));
        }

        var head = output.GetSpan(8);
        Magic.CopyTo(head);
        BinaryPrimitives.WriteUInt32LittleEndian(head[4..], (uint)sample.Count);
        output.Advance(8);
        foreach (var (name, tensor) in sample)
        {
            ArgumentNullException.ThrowIfNull(tensor, name);
            WriteTensor(name, tensor, output);
        }
    }

    /// <summary>Reads a sample written by <see cref="Write"/>. Returns false, having allocated no tensor
    /// that it keeps, when <paramref name="data"/> is not such a sample: truncated, with trailing bytes, an
    /// unknown dtype, a negative or oversized dimension, a duplicate or non-UTF-8 name, a boolean that is
    /// neither 0 nor 1.</summary>
    /// <param name="data">The encoded sample; read, never kept.</param>
    /// <param name="sample">New CPU tensors, owned by the caller; null when false is returned.</param>
    public static bool TryRead(ReadOnlySpan<byte> data, out Dictionary<string, Tensor>? sample)
    {
        sample = null;
        if (!Validate(data, out var headers))
        {
            return false;
        }

        var result = new Dictionary<string, Tensor>(headers.Length, StringComparer.Ordinal);
        try
        {
            foreach (var header in headers)
            {
                result.Add(header.Name, CreateTensor(header, data.Slice(header.DataOffset, header.DataLength)));
            }
        }
        catch
        {
            // libtorch refused an allocation: release what was made; the caller sees the exception.
            foreach (var tensor in result.Values)
            {
                tensor.Dispose();
            }

            throw;
        }

        sample = result;
        return true;
    }

    /// <summary>Whether <paramref name="data"/> is a sample <see cref="TryRead"/> accepts; allocates no tensor.</summary>
    public static bool IsValid(ReadOnlySpan<byte> data) => Validate(data, out _);

    /// <summary>Whether <paramref name="type"/> is one of the quantized dtypes (QInt8, QUInt8, QInt32).</summary>
    internal static bool IsQuantized(ScalarType type) => type is ScalarType.QInt8 or ScalarType.QUInt8 or ScalarType.QInt32;

    /// <summary>The bytes per element of <paramref name="type"/>, or 0 for a value that is no dtype.</summary>
    internal static int ElementSize(ScalarType type) => type switch
    {
        ScalarType.Byte or ScalarType.Int8 or ScalarType.Bool or ScalarType.QInt8 or ScalarType.QUInt8 => 1,
        ScalarType.Int16 or ScalarType.Float16 or ScalarType.BFloat16 => 2,
        ScalarType.Int32 or ScalarType.Float32 or ScalarType.QInt32 => 4,
        ScalarType.Int64 or ScalarType.Float64 or ScalarType.ComplexFloat32 => 8,
        ScalarType.ComplexFloat64 => 16,
        _ => 0,
    };

    private static void WriteTensor(string name, Tensor tensor, IBufferWriter<byte> output)
    {
        if (tensor.is_sparse)
        {
            throw new NotSupportedException($"Tensor '{name}' is sparse; only dense tensors can be cached (call to_dense() first).");
        }

        var type = tensor.dtype;
        var elementSize = ElementSize(type);
        if (elementSize == 0)
        {
            throw new NotSupportedException($"Tensor '{name}' has dtype {type}, which this codec does not know.");
        }

        var shape = tensor.shape;
        if (shape.Length > MaxRank)
        {
            throw new ArgumentException($"Tensor '{name}' has rank {shape.Length}; at most {MaxRank} is supported.", nameof(tensor));
        }

        var nameBytes = Encoding.UTF8.GetByteCount(name);
        if (nameBytes > ushort.MaxValue)
        {
            throw new ArgumentException($"A tensor name is at most 65,535 UTF-8 bytes; this one has {nameBytes}.", nameof(name));
        }

        double scale = 0;
        long zeroPoint = 0;
        if (IsQuantized(type))
        {
            // q_scale() throws for per-channel quantization, which this layout does not describe.
            try
            {
                scale = tensor.q_scale();
                zeroPoint = tensor.q_zero_point();
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                throw new NotSupportedException($"Tensor '{name}' is quantized per channel; only per-tensor quantization can be cached.", ex);
            }
        }

        var headerLength = 2 + nameBytes + 2 + (8 * shape.Length) + (IsQuantized(type) ? 16 : 0);
        var span = output.GetSpan(headerLength);
        BinaryPrimitives.WriteUInt16LittleEndian(span, (ushort)nameBytes);
        Encoding.UTF8.GetBytes(name, span.Slice(2, nameBytes));
        var at = 2 + nameBytes;
        span[at++] = (byte)type;
        span[at++] = (byte)shape.Length;
        foreach (var dimension in shape)
        {
            BinaryPrimitives.WriteInt64LittleEndian(span[at..], dimension);
            at += 8;
        }

        if (IsQuantized(type))
        {
            BinaryPrimitives.WriteDoubleLittleEndian(span[at..], scale);
            BinaryPrimitives.WriteInt64LittleEndian(span[(at + 8)..], zeroPoint);
        }

        output.Advance(headerLength);

        // bytes needs a contiguous CPU tensor; the temporaries are ours to dispose, the input is not.
        var cpu = tensor.device_type == DeviceType.CPU ? null : tensor.cpu();
        var source = cpu ?? tensor;
        var contiguous = source.is_contiguous() ? null : source.contiguous();
        try
        {
            output.Write((contiguous ?? source).bytes);
        }
        finally
        {
            contiguous?.Dispose();
            cpu?.Dispose();
        }
    }

    // Walks the whole value once, checking every field against what follows, before any tensor exists.
    private static bool Validate(ReadOnlySpan<byte> data, out TensorHeader[] headers)
    {
        headers = [];
        if (data.Length < 8 || !data[..4].SequenceEqual(Magic))
        {
            return false;
        }

        var declared = BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
        if (declared > MaxTensors)
        {
            return false;
        }

        var found = new TensorHeader[declared];
        var names = declared <= 1 ? null : new HashSet<string>((int)declared, StringComparer.Ordinal);
        var position = 8;
        for (var i = 0; i < found.Length; i++)
        {
            if (!TryReadHeader(data, ref position, out found[i]) || (names is not null && !names.Add(found[i].Name)))
            {
                return false;
            }

            var payload = data.Slice(position, found[i].DataLength);
            if (found[i].Type == ScalarType.Bool && payload.IndexOfAnyExcept((byte)0, (byte)1) >= 0)
            {
                return false;
            }

            position += found[i].DataLength;
        }

        if (position != data.Length)
        {
            return false;
        }

        headers = found;
        return true;
    }

    private static bool TryReadHeader(ReadOnlySpan<byte> data, ref int position, out TensorHeader header)
    {
        header = default;
        var rest = data[position..];
        if (rest.Length < 2)
        {
            return false;
        }

        int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(rest);
        if (rest.Length < 2 + nameLength + 2)
        {
            return false;
        }

        var nameBytes = rest.Slice(2, nameLength);
        if (!Utf8.IsValid(nameBytes))
        {
            return false;
        }

        var at = 2 + nameLength;
        var type = (ScalarType)rest[at++];
        int rank = rest[at++];
        var elementSize = ElementSize(type);
        var quantized = IsQuantized(type);
        if (elementSize == 0 || rank > MaxRank || rest.Length - at < (8 * rank) + (quantized ? 16 : 0))
        {
            return false;
        }

        var shape = new long[rank];
        long elements = 1;
        long bound = 1;
        for (var d = 0; d < rank; d++)
        {
            var dimension = BinaryPrimitives.ReadInt64LittleEndian(rest[at..]);
            at += 8;
            if (dimension < 0 || dimension > MaxElements)
            {
                return false;
            }

            // bound (the product of the non-zero dimensions) keeps a shape like [0, 2^40, 2^40] out: libtorch
            // would overflow computing its strides. Checked before multiplying, so nothing overflows here.
            if (Math.Max(dimension, 1) > MaxElements / bound)
            {
                return false;
            }

            bound *= Math.Max(dimension, 1);

            elements *= dimension;
            shape[d] = dimension;
        }

        double scale = 0;
        long zeroPoint = 0;
        if (quantized)
        {
            scale = BinaryPrimitives.ReadDoubleLittleEndian(rest[at..]);
            zeroPoint = BinaryPrimitives.ReadInt64LittleEndian(rest[(at + 8)..]);
            at += 16;
            if (!double.IsFinite(scale) || scale <= 0)
            {
                return false;
            }
        }

        var dataLength = elements * elementSize;
        if (dataLength > rest.Length - at)
        {
            return false;
        }

        header = new TensorHeader(Encoding.UTF8.GetString(nameBytes), type, shape, scale, zeroPoint, position + at, (int)dataLength);
        position += at;
        return true;
    }

    private static Tensor CreateTensor(in TensorHeader header, ReadOnlySpan<byte> payload)
    {
        Tensor tensor;
        if (IsQuantized(header.Type))
        {
            // An empty quantized tensor with the recorded scale and zero point; its integer storage is
            // then overwritten with the cached bytes, exactly.
            using var zeros = torch.zeros(header.Shape, ScalarType.Float32);
            tensor = torch.quantize_per_tensor(zeros, header.Scale, header.ZeroPoint, header.Type);
        }
        else
        {
            tensor = torch.empty(header.Shape, header.Type);
        }

        if (!payload.IsEmpty)
        {
            payload.CopyTo(tensor.bytes);
        }

        return tensor;
    }

    private readonly record struct TensorHeader(string Name, ScalarType Type, long[] Shape, double Scale, long ZeroPoint, int DataOffset, int DataLength);
}
