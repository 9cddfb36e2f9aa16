#pragma once
// reel: a small, fast C++20 tensor and autograd framework. One include for everything:
//   #include <reel/reel.hpp>
#include "autograd/grad_mode.hpp"
#include "autograd/gradcheck.hpp"
#include "backends/backend.hpp"
#include "nn/containers.hpp"
#include "nn/conv1d.hpp"
#include "nn/functional/conv1d.hpp"
#include "nn/functional/normalization.hpp"
#include "nn/functional/pad.hpp"
#include "nn/init.hpp"
#include "nn/module.hpp"
#include "nn/utils.hpp"
#include "nn/normalization.hpp"
#include "tensor/npy.hpp"
#include "tensor/ops.hpp"
#include "tensor/runtime.hpp"
#include "tensor/tensor.hpp"
