#pragma once
// Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 70,000 28x28 grey images of clothing in 10
// classes, stored as four IDX files, usually gzipped:
//   train-images-idx3-ubyte.gz  [60000, 28, 28] uint8    train-labels-idx1-ubyte.gz  [60000]
//   t10k-images-idx3-ubyte.gz   [10000, 28, 28] uint8    t10k-labels-idx1-ubyte.gz   [10000]
// Debian's dataset-fashion-mnist package installs them in /usr/share/datasets/fashion-mnist
// (scripts/setup installs it).
//
// The IDX format (LeCun's MNIST page): a 4-byte magic 0x00 0x00 <type> <ndims>, then ndims
// big-endian uint32 sizes, then the elements in row-major order. reel reads type 0x08 (uint8),
// the only type the MNIST family uses, with 1 to 4 dims.
//
// Everything read is validated first: the magic, the type, the dims (each > 0, their product
// checked for overflow), the number of bytes actually present (a truncated file or extra bytes
// after the data are errors), the gzip stream (corrupt data, bad CRC, a stream cut short,
// garbage after it), and, for the dataset, the shapes, the counts and the labels. Each problem
// raises reel::Error naming the file, the field and the values.
#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "tensor/tensor.hpp"

namespace reel::data {

// $REEL_FASHION_MNIST_DIR when set (and not empty), else /usr/share/datasets/fashion-mnist.
std::string fashion_mnist_default_dir();

// Reads an IDX file, gzipped (recognised by the gzip magic 1f 8b, whatever the name) or raw.
// Returns a contiguous CPU kUInt8 tensor with the header's dims.
Tensor read_idx(const std::string& path);
// The same on the bytes of a file already in memory; `name` is what error messages call it.
Tensor read_idx_bytes(std::span<const std::byte> bytes, std::string_view name = "<memory>");

struct ImageSet {
  Tensor images;  // [N, 28, 28] float32, pixel / 255 (torchvision's ToTensor), in [0, 1]
  Tensor labels;  // [N] int64 in [0, 10)
};

// Loads the training set (train: 60000 images) or the test set (10000) from `dir`, which holds
// the four files gzipped (<name>.gz) or raw (<name>, as torchvision's raw/ folder may).
// A missing file is an error that says how to install the data.
ImageSet load_fashion_mnist(const std::string& dir, bool train);

// The class names, by label (torchvision.datasets.FashionMNIST.classes).
extern const std::array<const char*, 10> kFashionMnistClasses;

}  // namespace reel::data
