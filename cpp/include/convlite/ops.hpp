// Every op family's declarations. Drivers validate nothing: Python and the bindings check arguments first.
#pragma once
#include "convlite/activation.hpp"
