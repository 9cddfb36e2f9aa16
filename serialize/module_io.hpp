#pragma once
// Saving and loading a module's weights as a safetensors file, with PyTorch's state_dict names,
// so weights move between reel and PyTorch both ways:
//
//   reel::save(*model, "model.safetensors");          // PyTorch: safetensors.torch.save_model
//   reel::load(*model, "model.safetensors");          //          safetensors.torch.load_model
//   # Python: model.load_state_dict(safetensors.torch.load_file("model.safetensors"))
//
// save writes module.state_dict() (parameters and persistent buffers, PyTorch's names such as
// "0.weight", "bn.running_mean", "conv.weight_g") with the metadata {"format": "pt"}, as
// safetensors.torch.save_model does (the Hugging Face loaders look for it), plus any `metadata`
// given. A tensor shared under two names is written under each (PyTorch's save_model drops all
// but one; load_state_dict fills both either way). The write is atomic.
//
// load reads the file and hands its tensors to module.load_state_dict(strict): the errors are
// PyTorch's (missing keys and unexpected keys when strict, size mismatches always), prefixed
// with "load: file '<path>':", and when it raises nothing has been written into the module.
// dtypes are converted as PyTorch's load_state_dict does (param.copy_(value) casts): a float64
// file loads into a float32 model, and an F16/BF16 file (read as float32) too. Returns the
// missing and unexpected keys (both empty when strict).
#include <string>

#include "nn/module.hpp"
#include "serialize/safetensors.hpp"

namespace reel {

void save(const nn::Module& module, const std::string& path,
          const safetensors::Metadata& metadata = {});
nn::LoadStateDictResult load(nn::Module& module, const std::string& path, bool strict = true);

// The same through a holder: reel::save(model, path) with `nn::Sequential model`.
template <typename Impl>
void save(const nn::ModuleHolder<Impl>& module, const std::string& path,
          const safetensors::Metadata& metadata = {}) {
  save(static_cast<const nn::Module&>(*module), path, metadata);
}
template <typename Impl>
nn::LoadStateDictResult load(const nn::ModuleHolder<Impl>& module, const std::string& path,
                             bool strict = true) {
  return load(static_cast<nn::Module&>(*module), path, strict);
}

}  // namespace reel
