// Run-time choice of instruction set. The tier is chosen once at import (the best the CPU and OS support, or
// CONVLITE_ISA), and every kernel family reads it when it picks its table.
#pragma once
#include <string>
#include <vector>

namespace convlite {

enum class Isa : int { scalar = 0, avx2 = 1, avx512 = 2, neon = 3 };

const char* isa_name(Isa isa);
// Throws std::invalid_argument naming the value for anything but scalar|avx2|avx512|neon.
Isa parse_isa(const std::string& name);
// Compiled into this build and supported by this CPU and OS.
bool isa_available(Isa isa);
// Executed by our test-suite on real hardware. Untested tiers are never chosen by default (DESIGN.md).
bool isa_tested(Isa isa);
std::vector<Isa> available_isas();
Isa active_isa();
// Throws std::invalid_argument if the CPU or this build lacks the tier.
void set_active_isa(Isa isa);
// Called once at import: CONVLITE_ISA if set (validated), else the best tested tier available.
void init_dispatch_from_environment();

}  // namespace convlite
