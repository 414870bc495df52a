// Every op family's declarations. Drivers validate nothing: Python and the bindings check arguments first.
#pragma once
#include "convlite/activation.hpp"
#include "convlite/conv.hpp"
#include "convlite/pool.hpp"
#include "convlite/train.hpp"
