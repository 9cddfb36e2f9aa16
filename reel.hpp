#pragma once
// reel: a small, fast C++20 tensor and autograd framework. One include for everything:
//   #include <reel/reel.hpp>
#include "autograd/grad_mode.hpp"
#include "autograd/gradcheck.hpp"
#include "backends/backend.hpp"
#include "nn/conv1d.hpp"
#include "nn/functional/conv1d.hpp"
#include "nn/functional/loss.hpp"
#include "nn/functional/pad.hpp"
#include "nn/init.hpp"
#include "nn/loss.hpp"
#include "nn/module.hpp"
#include "tensor/npy.hpp"
#include "tensor/ops.hpp"
#include "tensor/runtime.hpp"
#include "tensor/tensor.hpp"
