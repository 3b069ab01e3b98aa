/* ops.h — the network's operations as plain kernels over float buffers.
 *
 * Layout rules every kernel relies on:
 *  - a tensor is one sample, CHW, row-major: element (c, y, x) is at
 *    [(c * H + y) * W + x];
 *  - convolution weights are (Cout, Cin, K, K) as in PyTorch, bias is (Cout);
 *  - outputs come first in every argument list, then inputs, then shapes;
 *  - kernels never allocate: scratch memory is the caller's, sized by the
 *    matching *_scratch_size() query (in floats);
 *  - backward kernels ACCUMULATE (+=) into every gradient they write, both
 *    parameter and input gradients, so a tensor that feeds several
 *    consumers gets the sum; the caller zeroes gradients before a pass.
 *    A gradient pointer may be NULL when that gradient is not wanted.
 *  - forward kernels assign (=) their output; out must not alias an input
 *    unless the kernel says so.
 *
 * Matrix products go through OpenBLAS cblas_sgemm; callers that run
 * kernels in several threads of their own set OpenBLAS to one thread. */
#ifndef AENET_OPS_H
#define AENET_OPS_H

#include <stddef.h>

/* ---- 2-D convolution: K = 1 or 3, stride 1 or 2, zero padding K/2 ----
 * inp is (cin, h, w); out is (cout, ho, wo) with ho = (h - 1) / stride + 1,
 * wo = (w - 1) / stride + 1. bias may be NULL. */
size_t aenet_conv2d_scratch_size(int cin, int h, int w, int k, int stride);
void aenet_conv2d_forward(float *out, const float *inp, const float *weight, const float *bias,
                          float *scratch, int cin, int h, int w, int cout, int k, int stride);
/* dinp (cin, h, w), dweight (cout, cin, k, k), dbias (cout): each may be NULL. */
void aenet_conv2d_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                           const float *inp, const float *weight, float *scratch, int cin, int h,
                           int w, int cout, int k, int stride);

/* ---- depthwise convolution: one k x k filter per channel, k odd, stride 1,
 * zero padding k/2, as torch.nn.Conv2d (c, c, k, padding=k//2, groups=c) ----
 * inp and out are (c, h, w); weight is (c, 1, k, k); bias (c) may be NULL.
 * Needs no scratch. */
void aenet_depthwise_conv2d_forward(float *out, const float *inp, const float *weight,
                                    const float *bias, int c, int h, int w, int k);
/* dinp (c, h, w), dweight (c, 1, k, k), dbias (c): each may be NULL. */
void aenet_depthwise_conv2d_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                                     const float *inp, const float *weight, int c, int h, int w,
                                     int k);

/* ---- activations over n elements; out may alias inp ---- */
void aenet_relu_forward(float *out, const float *inp, size_t n);
void aenet_relu_backward(float *dinp, const float *dout, const float *inp, size_t n);
void aenet_leaky_relu_forward(float *out, const float *inp, float slope, size_t n);
void aenet_leaky_relu_backward(float *dinp, const float *dout, const float *inp, float slope,
                               size_t n);
/* PReLU with one learned slope per channel: inp is (c, hw), alpha is (c). */
void aenet_prelu_forward(float *out, const float *inp, const float *alpha, int c, size_t hw);
void aenet_prelu_backward(float *dinp, float *dalpha, const float *dout, const float *inp,
                          const float *alpha, int c, size_t hw);
/* Sigmoid 1 / (1 + exp (-x)). Its backward takes the forward's output, not
 * its input, so that the forward may run in place. */
void aenet_sigmoid_forward(float *out, const float *inp, size_t n);
void aenet_sigmoid_backward(float *dinp, const float *dout, const float *out, size_t n);

/* ---- element-wise ---- */
/* out = a + b over n elements; out may alias a or b. The backward of add
 * (and of concat, per slice) is aenet_accumulate into each input. */
void aenet_add_forward(float *out, const float *a, const float *b, size_t n);
/* d += src over n elements. */
void aenet_accumulate(float *d, const float *src, size_t n);
/* out = a * b over n elements; out may alias a or b. The backward adds
 * da += dout * b and db += dout * a; either may be NULL. */
void aenet_mul_forward(float *out, const float *a, const float *b, size_t n);
void aenet_mul_backward(float *da, float *db, const float *dout, const float *a, const float *b,
                        size_t n);
/* SimpleGate (NAFNet): inp is (2c, hw), out is (c, hw),
 * out[ch] = inp[ch] * inp[ch + c]: aenet_mul of inp's two halves. out may
 * alias inp's first half; dinp (2c, hw) may be NULL. */
void aenet_simple_gate_forward(float *out, const float *inp, int c, size_t hw);
void aenet_simple_gate_backward(float *dinp, const float *dout, const float *inp, int c, size_t hw);
/* A learned multiplier per channel (NAFNet's beta and gamma): inp is
 * (c, hw), scale is (c), out[ch] = inp[ch] * scale[ch]; out may alias inp.
 * dinp (c, hw) and dscale (c) may be NULL. */
void aenet_channel_scale_forward(float *out, const float *inp, const float *scale, int c,
                                 size_t hw);
void aenet_channel_scale_backward(float *dinp, float *dscale, const float *dout, const float *inp,
                                  const float *scale, int c, size_t hw);

/* ---- layer norm over the channels of each pixel (NAFNet's LayerNorm2d) ----
 * inp and out are (c, hw); weight and bias are (c). With the mean and the
 * biased variance of the c values at a pixel,
 *   out[ch] = (inp[ch] - mean) / sqrt (var + AENET_LAYER_NORM_EPS) * weight[ch] + bias[ch].
 * The forward needs no memory beyond out, which may alias inp. The
 * backward recomputes mean and variance from inp: training keeps the
 * input, nothing else. dinp (c, hw), dweight (c), dbias (c) may be NULL. */
#define AENET_LAYER_NORM_EPS 1e-6f
void aenet_layer_norm_channels_forward(float *out, const float *inp, const float *weight,
                                       const float *bias, int c, size_t hw);
void aenet_layer_norm_channels_backward(float *dinp, float *dweight, float *dbias,
                                        const float *dout, const float *inp, const float *weight,
                                        int c, size_t hw);

/* ---- crops ---- */
/* out (c, h - 2 border, w - 2 border) is inp (c, h, w) without its outer
 * border rows and columns. out may be inp itself: the tensor is then
 * compacted in place (every row moves towards the start). */
void aenet_crop_forward(float *out, const float *inp, int c, int h, int w, int border);

/* ---- resolution changes ---- */
/* Pixel shuffle (depth to space): inp (c*r*r, h, w) -> out (c, h*r, w*r),
 * out(ch, y*r+i, x*r+j) = inp(ch*r*r + i*r + j, y, x), as torch.nn.PixelShuffle. */
void aenet_pixel_shuffle_forward(float *out, const float *inp, int c, int h, int w, int r);
void aenet_pixel_shuffle_backward(float *dinp, const float *dout, int c, int h, int w, int r);
/* Pixel unshuffle (space to depth): inp (c, h, w) -> out (c*r*r, h/r, w/r),
 * the exact inverse of the shuffle; h and w are multiples of r. */
void aenet_pixel_unshuffle_forward(float *out, const float *inp, int c, int h, int w, int r);
void aenet_pixel_unshuffle_backward(float *dinp, const float *dout, int c, int h, int w, int r);

/* ---- losses over n elements: return the mean loss, and when grad is not
 * NULL assign grad = d(mean loss)/d(pred) ---- */
float aenet_loss_l1(float *grad, const float *pred, const float *target, size_t n);
float aenet_loss_l2(float *grad, const float *pred, const float *target, size_t n);
float aenet_loss_charbonnier(float *grad, const float *pred, const float *target, float eps,
                             size_t n);

/* ---- optimizer: one flat loop over parameters laid out like their
 * gradients and moments. t is the 1-based step. Decoupled weight decay
 * (AdamW) when weight_decay > 0. ---- */
void aenet_adam_update(float *param, float *m, float *v, const float *grad, size_t n, float lr,
                       float beta1, float beta2, float eps, float weight_decay, long t);

#endif
