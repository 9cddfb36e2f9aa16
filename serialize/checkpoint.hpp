#pragma once
// Training checkpoints: everything a run needs to continue bitwise as if never interrupted, in
// one safetensors file (docs/training.md, "Training checkpoints").
//
//   serialize::TrainingState s{.model = model.ptr().get(), .optimizer = &adam,
//                              .scheduler = &sched};
//   s.step = step;
//   serialize::save_checkpoint("run.ckpt.safetensors", s);   // later, in a new process:
//   serialize::load_checkpoint("run.ckpt.safetensors", s);   // same objects, rebuilt
//
// Layout (one safetensors file: tensors, plus string -> string metadata):
//   tensors   "model.<state_dict name>"          the model's parameters and persistent buffers
//             "optimizer.state.<i>.<name>"       the optimizer's per-parameter state
//   metadata  "reel.checkpoint" = "1"            the format version (checked on load)
//             "step"                              the step counter (decimal int64)
//             "optimizer" = "Adam"                the optimizer's name (checked on load)
//             "optimizer.param_groups.<g>.<key>"  its group options (lr, betas.0, params.<k>, ...)
//             "scheduler.<key>"                   the LR scheduler's state (last_epoch, ...)
//             "rng.seed", "rng.offset"            the default generator (dropout, randn, ...)
//             "generators.<name>.seed", ".offset" the named extra generators
//             "loader.epoch", "loader.batches_done", "loader.generator.seed",
//             "loader.generator.offset"           the DataLoader's place and its shuffle stream
//             "scalars.<name>"                    the user's scalars
// Doubles are written in their shortest form that reads back to the same bits (std::to_chars:
// "0.001", "1e-08", "inf", "nan"), integers as decimal strings, so every value round-trips
// exactly. Each part is present exactly when the TrainingState points at it; loading requires
// the same parts.
//
// What is not saved: the model's structure (the loading program builds the same model), the
// autograd graph, gradients (a step starts with zero_grad), the thread count (results are
// bitwise equal only at the same one: docs/training.md, "Determinism").
#include <cstdint>
#include <map>
#include <string>

#include "data/dataloader.hpp"
#include "nn/module.hpp"
#include "nn/optim/optimizer.hpp"
#include "nn/optim/schedulers.hpp"
#include "tensor/generator.hpp"
#include "tensor/tensor.hpp"

namespace reel::serialize {

// What a training run is made of. Pointers may be null (that part is then neither saved nor
// expected); the objects stay the caller's.
struct TrainingState {
  nn::Module* model = nullptr;
  optim::Optimizer* optimizer = nullptr;
  optim::LRScheduler* scheduler = nullptr;
  data::DataLoader* loader = nullptr;
  // The default generator's state (get_rng_state): saved and restored unless false.
  bool default_generator = true;
  // Other generators, by name (handles: restoring sets the state every copy shares). Names are
  // non-empty.
  std::map<std::string, Generator> generators;
  std::int64_t step = 0;
  // The user's own numbers (best validation loss, ...): saved and restored exactly. Names are
  // non-empty.
  std::map<std::string, double> scalars;
};

// A checkpoint in memory: what the file holds (the tensors are copies, a snapshot).
struct Checkpoint {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Snapshots `state`.
Checkpoint make_checkpoint(const TrainingState& state);

// Restores `state` from `checkpoint`: the model's tensors and the optimizer's state are copied
// in place, the scheduler's state, step and scalars replaced. Validates everything before
// changing anything: a missing or unexpected key, a tensor whose shape differs from the
// model's, a part present in one and not the other, another optimizer, a malformed number, a
// loader position past the loader's epoch:
// each raises reel::Error naming `source` (the file, in load_checkpoint) and the key.
void restore_checkpoint(const Checkpoint& checkpoint, TrainingState& state,
                        const std::string& source = "checkpoint");

// make_checkpoint written to one safetensors file, atomically (a process killed mid-save leaves
// the previous file intact).
void save_checkpoint(const std::string& path, const TrainingState& state);
// Reads and validates the file (safetensors::load_file), then restore_checkpoint; errors name
// the file.
void load_checkpoint(const std::string& path, TrainingState& state);

}  // namespace reel::serialize
