// Training checkpoints: collecting a run's state into tensors + string metadata, and the
// validated way back (serialize/checkpoint.hpp has the layout).
#include "serialize/checkpoint.hpp"

#include <charconv>
#include <cstring>
#include <set>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "autograd/grad_mode.hpp"
#include "backends/error.hpp"
#include "serialize/safetensors.hpp"

namespace reel::serialize {

namespace {

constexpr const char* kVersionKey = "reel.checkpoint";
constexpr const char* kVersion = "1";

// The shortest decimal form that reads back to the same double (std::to_chars' guarantee);
// "inf", "-inf", "nan" for the rest.
std::string format_double(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string format_int(std::int64_t v) { return std::to_string(v); }

// Parses the whole of `text` (no spaces, no trailing characters) or raises naming the key.
template <class T>
T parse_number(const std::string& text, const std::string& key, const std::string& source,
               const char* what) {
  T v{};
  const char* begin = text.data();
  const char* end = begin + text.size();
  const auto r = std::from_chars(begin, end, v);
  check(!text.empty() && r.ec == std::errc() && r.ptr == end,
        "load_checkpoint: {}: metadata key '{}' = '{}' is not {}", source, key, text, what);
  return v;
}
double parse_double(const std::string& text, const std::string& key, const std::string& source) {
  // from_chars reads "inf", "-inf" and "nan" as to_chars writes them; a leading '+' it refuses,
  // as to_chars never writes one.
  return parse_number<double>(text, key, source, "a number");
}
std::int64_t parse_int(const std::string& text, const std::string& key, const std::string& source) {
  return parse_number<std::int64_t>(text, key, source, "an integer");
}

std::uint64_t parse_uint(const std::string& text, const std::string& key, const std::string& source) {
  return parse_number<std::uint64_t>(text, key, source, "an unsigned integer");
}

void put_generator(std::map<std::string, std::string>& md, const std::string& prefix,
                   const GeneratorState& g) {
  md[prefix + ".seed"] = std::to_string(g.seed);
  md[prefix + ".offset"] = std::to_string(g.offset);
}

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.size() >= prefix.size() && std::string_view(s).substr(0, prefix.size()) == prefix;
}

const std::string& require_key(const std::map<std::string, std::string>& metadata,
                               const std::string& key, const std::string& source) {
  auto it = metadata.find(key);
  check(it != metadata.end(), "load_checkpoint: {}: missing metadata key '{}'", source, key);
  return it->second;
}

// A part (model, optimizer, scheduler) must be in the checkpoint exactly when the TrainingState
// has it.
void check_part(bool in_checkpoint, bool in_state, const char* part, const char* key,
                const std::string& source) {
  const char* article = part[0] == 'o' ? "an" : "a";
  if (in_checkpoint && !in_state) {
    fail("load_checkpoint: {}: the checkpoint has {} {} (metadata key '{}') but the "
         "TrainingState has none",
         source, article, part, key);
  }
  check(in_checkpoint || !in_state,
        "load_checkpoint: {}: the checkpoint has no {} (metadata key '{}') but the TrainingState "
        "has one",
        source, part, key);
}

}  // namespace

Checkpoint make_checkpoint(const TrainingState& state) {
  Checkpoint cp;
  cp.metadata.emplace(kVersionKey, kVersion);
  cp.metadata["step"] = format_int(state.step);
  NoGradGuard no_grad;
  if (state.model != nullptr) {
    const nn::StateDict sd = state.model->state_dict();
    cp.metadata["model"] = format_int(static_cast<std::int64_t>(sd.size()));
    for (const auto& [name, t] : sd) cp.tensors["model." + name] = t.clone();
  }
  if (state.optimizer != nullptr) {
    const optim::OptimizerStateDict sd = state.optimizer->state_dict();  // copies already
    cp.metadata["optimizer"] = state.optimizer->name();
    for (const auto& [key, t] : sd.tensors) cp.tensors["optimizer." + key] = t;
    for (const auto& [key, v] : sd.scalars) cp.metadata["optimizer." + key] = format_double(v);
  }
  if (state.scheduler != nullptr) {
    const optim::SchedulerStateDict sd = state.scheduler->state_dict();
    cp.metadata["scheduler"] = format_int(static_cast<std::int64_t>(sd.size()));
    for (const auto& [key, v] : sd) cp.metadata["scheduler." + key] = format_double(v);
  }
  if (state.default_generator) put_generator(cp.metadata, "rng", get_rng_state());
  for (const auto& [name, g] : state.generators) {
    check(!name.empty(), "save_checkpoint: a generator has an empty name");
    put_generator(cp.metadata, "generators." + name, g.get_state());
  }
  if (state.loader != nullptr) {
    const data::DataLoaderState ls = state.loader->state();
    cp.metadata["loader.epoch"] = format_int(ls.epoch);
    cp.metadata["loader.batches_done"] = format_int(ls.batches_done);
    put_generator(cp.metadata, "loader.generator", ls.generator);
  }
  for (const auto& [name, v] : state.scalars) {
    check(!name.empty(), "save_checkpoint: a scalar has an empty name");
    cp.metadata["scalars." + name] = format_double(v);
  }
  return cp;
}

void restore_checkpoint(const Checkpoint& cp, TrainingState& state, const std::string& source) {
  const auto& md = cp.metadata;
  // --- validate and parse everything; nothing changes until the end -------------------------
  const std::string& version = require_key(md, kVersionKey, source);
  check(version == kVersion,
        "load_checkpoint: {}: metadata key '{}' = '{}': this reel reads checkpoint format {}",
        source, kVersionKey, version, kVersion);
  const std::int64_t step = parse_int(require_key(md, "step", source), "step", source);

  // Every key must belong to a part: a stray one means another writer, or a damaged file.
  for (const auto& [key, value] : md) {
    const bool known = key == kVersionKey || key == "step" || key == "model" ||
                       key == "optimizer" || key == "scheduler" ||
                       starts_with(key, "optimizer.") || starts_with(key, "scheduler.") ||
                       key == "rng.seed" || key == "rng.offset" ||
                       starts_with(key, "generators.") || starts_with(key, "loader.") ||
                       starts_with(key, "scalars.");
    check(known, "load_checkpoint: {}: unexpected metadata key '{}'", source, key);
  }
  for (const auto& [key, t] : cp.tensors) {
    check(starts_with(key, "model.") || starts_with(key, "optimizer.state."),
          "load_checkpoint: {}: unexpected tensor '{}'", source, key);
  }

  // Model: the same names and shapes as the live model's state_dict.
  nn::StateDict model_sd;
  check_part(md.contains("model"), state.model != nullptr, "model", "model", source);
  if (state.model != nullptr) {
    const std::int64_t count = parse_int(md.at("model"), "model", source);
    std::set<std::string> expected;
    for (const auto& [name, live] : state.model->state_dict()) {
      const std::string key = "model." + name;
      expected.insert(key);
      auto it = cp.tensors.find(key);
      check(it != cp.tensors.end(), "load_checkpoint: {}: missing tensor '{}' (the model has it)",
            source, key);
      check(it->second.sizes() == live.sizes(),
            "load_checkpoint: {}: tensor '{}' has shape {} in the checkpoint, {} in the model",
            source, key, it->second.sizes(), live.sizes());
      check(it->second.dtype() == live.dtype(),
            "load_checkpoint: {}: tensor '{}' is {} in the checkpoint, {} in the model", source,
            key, it->second.dtype(), live.dtype());
      model_sd.emplace_back(name, it->second);
    }
    for (const auto& [key, t] : cp.tensors) {
      check(!starts_with(key, "model.") || expected.contains(key),
            "load_checkpoint: {}: unexpected tensor '{}' (the model has no such entry)", source,
            key);
    }
    check(count == static_cast<std::int64_t>(expected.size()),
          "load_checkpoint: {}: metadata key 'model' = {} entries, the model has {}", source,
          count, expected.size());
  } else {
    for (const auto& [key, t] : cp.tensors) {
      check(!starts_with(key, "model."), "load_checkpoint: {}: unexpected tensor '{}' (no model)",
            source, key);
    }
  }

  // Optimizer: the same kind; its own load_state_dict validates the entries.
  optim::OptimizerStateDict optim_sd;
  check_part(md.contains("optimizer"), state.optimizer != nullptr, "optimizer", "optimizer", source);
  if (state.optimizer != nullptr) {
    const std::string& name = md.at("optimizer");
    check(name == state.optimizer->name(),
          "load_checkpoint: {}: metadata key 'optimizer' = '{}' but the TrainingState's optimizer "
          "is {}",
          source, name, state.optimizer->name());
    // Every parameter with state keeps the same entries (Adam: step, exp_avg, exp_avg_sq): a
    // parameter lacking one would fail at its next step, or silently start it afresh.
    std::map<std::string, std::set<std::string>> names_by_param;
    std::set<std::string> all_names;
    for (const auto& [key, t] : cp.tensors) {
      if (!starts_with(key, "optimizer.")) continue;
      optim_sd.tensors.emplace_back(key.substr(10), t);
      const std::string rest = key.substr(16);  // after "optimizer.state."
      const std::size_t dot = rest.find('.');
      if (dot == std::string::npos) continue;  // the optimizer's own check names it
      names_by_param[rest.substr(0, dot)].insert(rest.substr(dot + 1));
      all_names.insert(rest.substr(dot + 1));
    }
    for (const auto& [id, names] : names_by_param) {
      for (const std::string& n : all_names) {
        check(names.contains(n),
              "load_checkpoint: {}: missing tensor 'optimizer.state.{}.{}' (other parameters' "
              "optimizer state has '{}')",
              source, id, n, n);
      }
    }
    for (const auto& [key, value] : md) {
      if (starts_with(key, "optimizer.")) {
        optim_sd.scalars.emplace_back(key.substr(10), parse_double(value, key, source));
      }
    }
  } else {
    for (const auto& [key, t] : cp.tensors) {
      check(!starts_with(key, "optimizer."),
            "load_checkpoint: {}: unexpected tensor '{}' (no optimizer)", source, key);
    }
  }

  // Scheduler: exactly the keys the live scheduler saves, in its order.
  optim::SchedulerStateDict sched_sd;
  check_part(md.contains("scheduler"), state.scheduler != nullptr, "scheduler", "scheduler",
             source);
  std::set<std::string> sched_keys;
  if (state.scheduler != nullptr) {
    const std::int64_t count = parse_int(md.at("scheduler"), "scheduler", source);
    for (const auto& [key, v] : state.scheduler->state_dict()) {
      const std::string full = "scheduler." + key;
      sched_keys.insert(full);
      sched_sd.emplace_back(key, parse_double(require_key(md, full, source), full, source));
    }
    check(count == static_cast<std::int64_t>(sched_sd.size()),
          "load_checkpoint: {}: metadata key 'scheduler' = {} entries, the scheduler has {}",
          source, count, sched_sd.size());
  }
  // Generators and the loader: exactly the keys the TrainingState's parts save.
  std::set<std::string> rng_keys;
  auto read_generator = [&](const std::string& prefix) {
    rng_keys.insert(prefix + ".seed");
    rng_keys.insert(prefix + ".offset");
    GeneratorState g;
    g.seed = parse_uint(require_key(md, prefix + ".seed", source), prefix + ".seed", source);
    g.offset = parse_uint(require_key(md, prefix + ".offset", source), prefix + ".offset", source);
    return g;
  };
  GeneratorState default_rng;
  check_part(md.contains("rng.seed") || md.contains("rng.offset"), state.default_generator,
             "default generator state", "rng.seed", source);
  if (state.default_generator) default_rng = read_generator("rng");
  std::vector<std::pair<Generator, GeneratorState>> generators;
  for (const auto& [name, g] : state.generators) {
    generators.emplace_back(g, read_generator("generators." + name));
  }
  data::DataLoaderState loader_state;
  check_part(md.contains("loader.epoch"), state.loader != nullptr, "loader", "loader.epoch",
             source);
  if (state.loader != nullptr) {
    rng_keys.insert("loader.epoch");
    rng_keys.insert("loader.batches_done");
    loader_state.epoch = parse_int(md.at("loader.epoch"), "loader.epoch", source);
    loader_state.batches_done =
        parse_int(require_key(md, "loader.batches_done", source), "loader.batches_done", source);
    loader_state.generator = read_generator("loader.generator");
    // What DataLoader::load_state checks, checked here so that applying cannot fail.
    check(loader_state.epoch >= 0,
          "load_checkpoint: {}: metadata key 'loader.epoch' = {} is negative", source,
          loader_state.epoch);
    check(loader_state.batches_done >= 0 && loader_state.batches_done <= state.loader->size(),
          "load_checkpoint: {}: metadata key 'loader.batches_done' = {}, but the loader has {} "
          "batches per epoch",
          source, loader_state.batches_done, state.loader->size());
  }
  for (const auto& [key, value] : md) {
    if (starts_with(key, "generators.") || starts_with(key, "loader.") ||
        starts_with(key, "rng.")) {
      check(rng_keys.contains(key), "load_checkpoint: {}: unexpected metadata key '{}'", source,
            key);
    }
  }

  std::map<std::string, double> scalars;
  for (const auto& [key, value] : md) {
    if (starts_with(key, "scheduler.")) {
      check(sched_keys.contains(key), "load_checkpoint: {}: unexpected metadata key '{}'{}", source,
            key, state.scheduler ? " (the scheduler has no such entry)" : " (no scheduler)");
    } else if (starts_with(key, "scalars.")) {
      check(key.size() > 8, "load_checkpoint: {}: a scalar with an empty name", source);
      scalars[key.substr(8)] = parse_double(value, key, source);
    } else if (starts_with(key, "optimizer.")) {
      check(state.optimizer != nullptr, "load_checkpoint: {}: unexpected metadata key '{}' (no "
            "optimizer)", source, key);
    }
  }

  // --- apply: the scheduler and the optimizer validate values as they load (an integer
  // last_epoch, the optimizer's entries), so they go first; a failure puts the scheduler back
  // as it was. The model's names and shapes were checked above: its load cannot fail. -------
  if (state.scheduler != nullptr || state.optimizer != nullptr) {
    optim::SchedulerStateDict sched_before;
    if (state.scheduler != nullptr) sched_before = state.scheduler->state_dict();
    const char* part = "scheduler state (keys 'scheduler.*')";
    try {
      if (state.scheduler != nullptr) state.scheduler->load_state_dict(sched_sd);
      part = "optimizer state (keys 'optimizer.*')";
      if (state.optimizer != nullptr) state.optimizer->load_state_dict(optim_sd);
    } catch (const Error& e) {
      if (state.scheduler != nullptr) state.scheduler->load_state_dict(sched_before);
      fail("load_checkpoint: {}: {}: {}", source, part, e.what());
    }
  }
  if (state.model != nullptr) state.model->load_state_dict(model_sd, /*strict=*/true);
  if (state.loader != nullptr) state.loader->load_state(loader_state);
  if (state.default_generator) set_rng_state(default_rng);
  for (auto& [g, saved] : generators) g.set_state(saved);
  state.step = step;
  state.scalars = std::move(scalars);
}

void save_checkpoint(const std::string& path, const TrainingState& state) {
  const Checkpoint cp = make_checkpoint(state);
  safetensors::save_file(cp.tensors, path, cp.metadata);
}

void load_checkpoint(const std::string& path, TrainingState& state) {
  safetensors::File file = safetensors::load_file(path);
  const Checkpoint cp{std::move(file.tensors), std::move(file.metadata)};
  restore_checkpoint(cp, state, fmt::format("'{}'", path));
}

}  // namespace reel::serialize
