// Module weights as safetensors files (serialize/module_io.hpp).
#include "serialize/module_io.hpp"

#include "backends/error.hpp"

namespace reel {

void save(const nn::Module& module, const std::string& path,
          const safetensors::Metadata& metadata) {
  safetensors::TensorMap tensors;
  for (auto& [name, t] : module.state_dict()) tensors.emplace(name, t);
  safetensors::Metadata meta = metadata;
  meta.emplace("format", "pt");  // a caller's own "format" wins
  safetensors::save_file(tensors, path, meta);
}

nn::LoadStateDictResult load(nn::Module& module, const std::string& path, bool strict) {
  safetensors::File file = safetensors::load_file(path);
  nn::StateDict state;
  state.reserve(file.tensors.size());
  for (auto& [name, t] : file.tensors) state.emplace_back(name, std::move(t));
  try {
    return module.load_state_dict(state, strict);
  } catch (const Error& e) {
    throw Error(fmt::format("load: file '{}': {}", path, e.what()));
  }
}

}  // namespace reel
