// Checkpoints: every variable, the optimizer's slots, the step and the data position, in one
// binary file written atomically and verified by CRC-32 on load. Format: docs/training.md.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "qat/tensor.h"

namespace qat::train {

inline constexpr uint32_t kCheckpointVersion = 1;

struct Checkpoint {
  int64_t step = 0;  // global training step (optimizer updates applied so far)
  // Model variables by graph name ("conv1/kernel", "bn1/moving_mean", ...).
  std::map<std::string, Tensor> variables;
  // Optimizer slots by "<variable>/<slot>" ("conv1/kernel/momentum", "fc/bias/adam_m", ...).
  std::map<std::string, Tensor> slots;
  // Small string facts: optimizer name and hyper-parameters, seed, epoch, position in the
  // epoch, model name. Values are strings so the format needs no schema for them.
  std::map<std::string, std::string> meta;

  int64_t meta_int(const std::string& key, int64_t fallback) const;
  std::string meta_str(const std::string& key, const std::string& fallback = "") const;
};

// Writes `path` atomically: the bytes go to "<path>.tmp.<pid>", are fsync'ed, then renamed over
// `path` (and the folder is fsync'ed), so a crash leaves either the old file or the new one,
// never a partial one. On any failure the temporary file is removed and IoError is thrown.
void save_checkpoint(const std::string& path, const Checkpoint& ckpt);
// Reads and verifies (magic, version, sizes, CRC-32). Any inconsistency is a FormatError naming
// the file and what is wrong.
Checkpoint load_checkpoint(const std::string& path);

// Checks that `ckpt` has exactly the variables of `expected` (name -> shape), naming the first
// missing, extra or differently shaped variable. With allow_partial, missing variables are
// allowed (they keep their initial value) and returned; extra ones are still an error unless
// allow_extra is also set.
std::vector<std::string> check_checkpoint_matches(const Checkpoint& ckpt, const std::string& path,
                                                  const std::map<std::string, Shape>& expected,
                                                  bool allow_partial = false, bool allow_extra = false);

// Run-folder helpers: "ckpt-<step>.qatckpt" and a "latest" file holding that name.
std::string checkpoint_filename(int64_t step);
void write_latest(const std::string& run_dir, const std::string& filename);
// Path of the newest checkpoint of a run folder (from "latest"); IoError if there is none.
std::string latest_checkpoint(const std::string& run_dir);
// Writes a small text file atomically (temp + fsync + rename).
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace qat::train
