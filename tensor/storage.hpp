#pragma once
// Storage: one reference-counted buffer on one device. Tensors are views (shape, strides,
// offset) into a Storage; views made from one tensor share it. The version counter lives here
// too, so every view of a buffer sees in-place writes made through any other.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "backends/backend.hpp"
#include "tensor/device.hpp"

namespace reel {

class StorageImpl {
 public:
  // Allocates `nbytes` on `device` through its backend's (caching) allocator.
  StorageImpl(std::size_t nbytes, Device device);
  // Wraps memory reel does not own (from_blob); `deleter` (may be empty) runs on release.
  StorageImpl(void* data, std::size_t nbytes, Device device, std::function<void(void*)> deleter);
  ~StorageImpl();
  StorageImpl(const StorageImpl&) = delete;
  StorageImpl& operator=(const StorageImpl&) = delete;

  void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  backends::Backend& backend() const { return *backend_; }

  // Bumped by every in-place write; autograd compares it with the value it saved.
  std::uint32_t version() const { return version_; }
  void bump_version() { ++version_; }

 private:
  void* data_ = nullptr;
  std::size_t nbytes_ = 0;
  Device device_;
  backends::Backend* backend_ = nullptr;
  std::function<void(void*)> deleter_;
  bool owned_ = true;
  std::uint32_t version_ = 0;
};

using Storage = std::shared_ptr<StorageImpl>;

// The backend that runs tensors on `device` (the selected CPU backend for CPU).
backends::Backend& backend_for(Device device);

}  // namespace reel
