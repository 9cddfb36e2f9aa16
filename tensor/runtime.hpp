#pragma once
// Process-wide settings: CPU threads, CUDA presence.
#include <cstdint>

namespace reel {

// Threads used by the CPU backend (default: the number of cores).
void set_num_threads(int n);
int get_num_threads();

namespace cuda {
// True when reel was built with CUDA and a GPU is present.
bool is_available();
int device_count();
void synchronize();
}  // namespace cuda

}  // namespace reel
