#pragma once
// conv1d on cuDNN, the CUDA backend's algorithm for dense and grouped convolutions (cudnn.cpp
// says how a 1-d convolution becomes cuDNN's 2-d one). Host-only; this header has no cuDNN
// types, so conv1d.cpp includes it whether or not reel was built with cuDNN (CMake option
// REEL_CUDNN). Without cuDNN every function below returns false and reel's own kernels run.
#include "backends/backend.hpp"

namespace reel::backends::cuda {

// Built with cuDNN and a handle could be created (libcudnn's sub-libraries load). Cached after
// the first call; never throws.
bool cudnn_available();

// Each returns false without doing anything when cuDNN cannot take the problem (not available;
// dtype not float32/float64/float16/bfloat16; a view not contiguous; sizes beyond int32; no
// algorithm of cuDNN's fits, e.g. none deterministic under use_deterministic_algorithms), so
// the caller uses reel's own kernels. Otherwise runs it on cuda::stream() and returns true, or
// throws reel::Error naming the op and cuDNN's status. Views and params have been checked by
// Backend's entry points (check_conv1d); shapes are non-empty.
//   y [N, Cout, Lout], x [N, Cin, L], w [Cout, Cin/G, K], bias [Cout] (data null: none).
bool cudnn_conv1d_forward(const View& y, const View& x, const View& w, const View& bias,
                          const Conv1dParams& p);
bool cudnn_conv1d_backward_input(const View& grad_x, const View& grad_y, const View& w,
                                 const Conv1dParams& p);
// grad_w and/or grad_b may have null data (not wanted).
bool cudnn_conv1d_backward_weight(const View& grad_w, const View& grad_b, const View& grad_y,
                                  const View& x, const Conv1dParams& p);

// Drops the cached plans (the algorithm chosen per problem; tests, empty_cache).
void cudnn_clear_plans();

}  // namespace reel::backends::cuda
