// DepthwiseConv2dNative: filter [KH,KW,C,M], output channel c*M + m (TF layout). Forward and
// gradients are the Conv2D family with the geometry's depthwise flag (see conv2d.cpp).
#include "ops/common.h"

namespace qat::ops {

void register_conv_family(const std::string& op, bool depthwise);

void register_depthwise_ops() { register_conv_family("DepthwiseConv2dNative", true); }

Output depthwise_conv2d(Graph& g, Output x, Output w, const ConvOpts& o, const std::string& name) {
  return make(g, "DepthwiseConv2dNative", name, {x, w},
              {{"strides", o.strides}, {"padding", o.padding}, {"dilations", o.dilations}});
}

}  // namespace qat::ops
