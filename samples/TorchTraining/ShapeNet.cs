using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace TorchTraining;

/// <summary>A small convolutional network: three conv-ReLU-pool stages (8, 16, 32 channels), then two linear layers.</summary>
internal sealed class ShapeNet : Module<Tensor, Tensor>
{
    private readonly Sequential _layers;

    public ShapeNet(int inputSize, int classes) : base(nameof(ShapeNet))
    {
        var side = inputSize / 8;
        _layers = Sequential(
            Conv2d(3, 8, 3, padding: 1), ReLU(), MaxPool2d(2),
            Conv2d(8, 16, 3, padding: 1), ReLU(), MaxPool2d(2),
            Conv2d(16, 32, 3, padding: 1), ReLU(), MaxPool2d(2),
            Flatten(),
            Linear(32 * side * side, 64), ReLU(),
            Linear(64, classes));
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => _layers.forward(input);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _layers.Dispose();
        }

        base.Dispose(disposing);
    }
}
