/* network.h — a network as a small graph of operations.
 *
 * A network is described in JSON as an array of nodes in execution order;
 * node i may only read nodes before it, and the last node is the output:
 *
 *   [ {"op": "input", "channels": 3},
 *     {"op": "noise_level"},                      one channel = sigma / 255
 *     {"op": "concat", "in": [0, 1]},
 *     {"op": "unshuffle", "factor": 2},           "in" defaults to the node before
 *     {"op": "conv", "out": 64, "k": 3, "stride": 1, "bias": true},
 *     {"op": "relu"}, {"op": "leaky_relu", "slope": 0.2}, {"op": "prelu"},
 *     {"op": "add", "in": [a, b]},
 *     {"op": "shuffle", "factor": 2},
 *     {"op": "bicubic", "in": [0], "factor": 2},  fixed MATLAB-style upscaling
 *     {"op": "dwconv", "k": 3, "bias": true},     depthwise: one k×k filter per channel
 *     {"op": "gate"},                             first half of the channels × second half
 *     {"op": "layernorm"},                        over the channels of each pixel
 *     {"op": "sigmoid"}, {"op": "mul", "in": [a, b]},
 *     {"op": "scale"} ]                           a learned multiplier per channel
 *
 * Parameters of node i are the tensors "nodes.<i>.weight" and
 * "nodes.<i>.bias" (conv, dwconv, layernorm), "nodes.<i>.alpha" (prelu) or
 * "nodes.<i>.scale" (scale), with the shapes aenet_network_get_param_info
 * gives (the layout is at the top of network.c). They live in one flat
 * array in node order, so gradients and optimizer moments can use the same
 * layout and the optimizer is one loop.
 *
 * A workspace holds what one forward (and backward) pass on an input of a
 * fixed size needs: every node's output, their gradients when training, and
 * the shared scratch. Inference workspaces reuse buffers whose values are no
 * longer needed, work in place where they can (element-wise ops) and run
 * 3×3 convolutions by Winograd's method, whose weights the network prepares
 * from its parameters on the first inference pass after they changed (a
 * cache of 4 floats per 3×3 weight, outside the workspaces). One workspace
 * per thread; the network itself is read-only during passes, so threads can
 * share it.
 *
 * A tile workspace computes only the core of a larger input: each node's
 * output is computed over the core grown by what the nodes after it read
 * (its margin), not over the whole input, and the output is the core
 * alone. Each output pixel then comes from the same input pixels as in a
 * pass over the whole image, so tiles stitch without seams; the work and
 * memory of the margins shrink towards the output. */
#ifndef AENET_NETWORK_H
#define AENET_NETWORK_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct AenetNetwork AenetNetwork;
typedef struct AenetWorkspace AenetWorkspace;

/* How a workspace runs the 3×3 stride-1 convolutions of forward passes
 * (other convolutions and backward passes use im2col + sgemm). */
typedef enum {
  AENET_CONV_WINOGRAD, /* the default: F(4×4, 3×3), see winograd.h */
  AENET_CONV_IM2COL,   /* the reference */
} AenetConvKernel;

/* "winograd" or "im2col". */
const char *aenet_conv_kernel_name(AenetConvKernel kernel);

typedef struct {
  const char *name; /* "nodes.<i>.weight" */
  int n_dims;
  gint64 shape[4];
  gsize offset; /* in floats, into the flat parameter array */
  gsize n_elements;
} AenetParamInfo;

/* Parses and checks a description; parameters start at zero. */
AenetNetwork *aenet_network_new(const char *json, gsize length, GError **error);
void aenet_network_free(AenetNetwork *net); /* NULL is fine */
/* The canonical JSON description (free with g_free). */
char *aenet_network_to_json(const AenetNetwork *net);

int aenet_network_get_in_channels(const AenetNetwork *net);
int aenet_network_get_out_channels(const AenetNetwork *net);
gboolean aenet_network_takes_noise_level(const AenetNetwork *net);
/* Output pixels per input pixel along each axis (1 for denoising). */
int aenet_network_get_scale(const AenetNetwork *net);
/* Input width and height must be multiples of this. */
int aenet_network_get_alignment(const AenetNetwork *net);
/* How far, in input pixels, an output pixel depends on the input around it. */
int aenet_network_get_reach(const AenetNetwork *net);
/* Multiply-adds per input pixel of one forward pass. */
double aenet_network_get_macs_per_pixel(const AenetNetwork *net);
/* Input pixels a tile workspace reads on every side of its core; at most
 * the reach rounded up to the alignment. */
int aenet_network_get_tile_margin(const AenetNetwork *net);
/* Pixels of node's output that a tile workspace keeps on every side of
 * the core, in the node's own pixels. */
int aenet_network_get_node_margin(const AenetNetwork *net, int node);
/* Multiply-adds of the convolutions of one pass of a tile workspace for an
 * h × w core (each computed over its margin and the ring cut off after). */
double aenet_network_get_tile_macs(const AenetNetwork *net, int h, int w);

gsize aenet_network_get_n_params(const AenetNetwork *net);
float *aenet_network_get_params(AenetNetwork *net);
guint aenet_network_get_n_param_tensors(const AenetNetwork *net);
const AenetParamInfo *aenet_network_get_param_info(const AenetNetwork *net, guint index);
/* Sets parameters from a seeded generator: convolution weights normal with
 * variance 2 / fan-in where only ReLUs read them (He), 1 / fan-in
 * elsewhere, the last convolution's 10 times smaller; biases 0, prelu
 * slopes 0.25, layernorm weights 1, scales 0 (so that blocks
 * x + scale · f(x) start as the identity). */
void aenet_network_init_params(AenetNetwork *net, guint64 seed);

/* Bytes a workspace for an h × w input takes. */
gsize aenet_workspace_size(const AenetNetwork *net, int h, int w, gboolean training);
/* h and w must be multiples of the alignment. */
AenetWorkspace *aenet_workspace_new(const AenetNetwork *net, int h, int w, gboolean training,
                                    GError **error);
/* The same for an inference workspace for tiles of an h × w core (see above). */
gsize aenet_workspace_tile_size(const AenetNetwork *net, int h, int w);
AenetWorkspace *aenet_workspace_new_tile(const AenetNetwork *net, int h, int w, GError **error);
void aenet_workspace_free(AenetWorkspace *ws); /* NULL is fine */
/* Chooses the kernel of later passes. Inference workspaces start with
 * Winograd, training ones with im2col: a training forward pass by
 * Winograd is faster, but the backward pass is the exact gradient of the
 * im2col forward, so its gradients then differ from those of the forward
 * actually computed by float rounding (about 1e-6 of their size). */
void aenet_workspace_set_conv_kernel(AenetWorkspace *ws, AenetConvKernel kernel);

/* input is (in_channels, h, w), for a tile workspace (in_channels, h + 2m,
 * w + 2m) with m the tile margin; noise_level is sigma on the [0, 1] scale. */
void aenet_network_forward(const AenetNetwork *net, AenetWorkspace *ws, const float *input,
                           float noise_level);
/* The last forward's output: (out_channels, h * scale, w * scale), for a
 * tile workspace the core's. */
const float *aenet_workspace_get_output(const AenetWorkspace *ws);
/* Needs a training workspace after forward; dout has the output's shape;
 * parameter gradients are accumulated (+=) into grads (flat layout). */
void aenet_network_backward(const AenetNetwork *net, AenetWorkspace *ws, float *grads,
                            const float *dout);

G_END_DECLS

#endif
