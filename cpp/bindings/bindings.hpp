// One registration function per op family; module.cpp calls them all.
#pragma once
#include <pybind11/pybind11.h>

namespace convlite::bindings {
void bind_config(pybind11::module_& m);
void bind_activation(pybind11::module_& m);
void bind_train(pybind11::module_& m);
void bind_norm_dropout(pybind11::module_& m);
void bind_pool(pybind11::module_& m);
void bind_shape_ops(pybind11::module_& m);
void bind_conv(pybind11::module_& m);
void bind_separable(pybind11::module_& m);
void bind_peak(pybind11::module_& m);
void bind_model(pybind11::module_& m);
}  // namespace convlite::bindings
