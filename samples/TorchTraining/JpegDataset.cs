using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchTraining;

/// <summary>
/// The uncached pipeline: every access reads a JPEG file, decodes it, resizes it to
/// <c>inputSize</c> x <c>inputSize</c> and normalizes it into a float tensor [3, H, W] ("image"), with its
/// class ("label", int64). This per-sample preprocessing is what the cache saves from epoch 2 on.
/// </summary>
/// <remarks>Thread-safe: TorchSharp's loader calls <see cref="GetTensor"/> from several threads. Each call
/// returns new tensors, owned by the caller.</remarks>
internal sealed class JpegDataset(string[] files, int inputSize) : utils.data.Dataset
{
    public override long Count => files.Length;

    public override Dictionary<string, Tensor> GetTensor(long index)
    {
        var path = files[index];
        using var decoded = SKBitmap.Decode(path) ?? throw new InvalidDataException($"cannot decode {path}");
        using var resized = decoded.Resize(new SKImageInfo(inputSize, inputSize, SKColorType.Rgba8888, SKAlphaType.Unpremul), SKFilterQuality.High)
            ?? throw new InvalidDataException($"cannot resize {path}");
        var pixels = resized.GetPixelSpan();
        var planes = new float[3 * inputSize * inputSize];
        var plane = inputSize * inputSize;
        for (var p = 0; p < plane; p++)
        {
            // RGBA bytes to planar RGB in [-1, 1].
            planes[p] = (pixels[4 * p] / 127.5f) - 1f;
            planes[plane + p] = (pixels[(4 * p) + 1] / 127.5f) - 1f;
            planes[(2 * plane) + p] = (pixels[(4 * p) + 2] / 127.5f) - 1f;
        }

        return new Dictionary<string, Tensor>
        {
            ["image"] = tensor(planes, [3, inputSize, inputSize]),
            ["label"] = tensor((long)ShapeImages.LabelOf(path)),
        };
    }
}
