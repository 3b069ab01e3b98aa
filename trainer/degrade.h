/* degrade.h — the degradations used to make training and evaluation inputs.
 *
 * Images are planar (c, h, w) floats, row-major, nominally in [0, 1].
 * Random numbers come from the caller's AenetRng, so a training run that
 * saves and restores the generator replays the same noise.
 *
 * Noise levels are on the 0–255 scale (sigma = 25 means a standard
 * deviation of 25/255 in [0, 1] units), as in the denoising literature. */
#ifndef AENET_DEGRADE_H
#define AENET_DEGRADE_H

#include <glib.h>

#include "rng.h"

G_BEGIN_DECLS

/* image (n floats) += N(0, (sigma/255)^2), independently per sample.
 * Not clipped: values may leave [0, 1]. */
void aenet_degrade_gaussian(float *image, gsize n, float sigma, AenetRng *rng);

/* Signal-dependent (heteroscedastic) noise, the normal approximation of
 * Poisson–Gaussian sensor noise: each sample x gets N(0, v) added, with
 * v = gain * max(x, 0) + (read_sigma/255)^2. gain is in [0, 1] units
 * (e.g. 0.01); not clipped. */
void aenet_degrade_poisson_gaussian(float *image, gsize n, float gain, float read_sigma,
                                    AenetRng *rng);

/* Round trip through an in-memory baseline JPEG at quality 1..100
 * (4:2:0 chroma subsampling for colour, libjpeg defaults). image is
 * (c, h, w) with c = 1 or 3 and is replaced by the decoded result, which
 * is quantized to 8 bits. Values are clipped to [0, 1] on the way in.
 * FALSE with error on a bad argument or a libjpeg failure. */
gboolean aenet_degrade_jpeg(float *image, int c, int h, int w, int quality, GError **error);

/* Bicubic downscaling by an integer factor, MATLAB imresize style
 * (antialiased; aenet_resize_bicubic). hr is (c, h, w); lr is
 * (c, h / scale, w / scale) (integer division: callers normally crop h and
 * w to multiples of scale first). scratch holds
 * aenet_degrade_downscale_scratch_size() floats. Never allocates. */
gsize aenet_degrade_downscale_scratch_size(int c, int h, int w, int scale);
void aenet_degrade_downscale(float *lr, const float *hr, float *scratch, int c, int h, int w,
                             int scale);

/* What saving to a file does: clip to [0, 1] and round to the nearest of
 * `levels` + 1 values k / levels (levels = 255 for 8 bits). */
void aenet_degrade_quantize(float *image, gsize n, int levels);

/* ---- A camera ----------------------------------------------------------
 *
 * What a camera does to a scene, after "Unprocessing images for learned raw
 * denoising" (Brooks et al., CVPR 2019): an sRGB image is taken back to the
 * sensor (inverse tone curve, inverse sRGB gamma, inverse colour correction,
 * inverse white balance and brightness gain), mosaicked to an RGGB Bayer
 * pattern, given shot and read noise, demosaicked (bilinear), and processed
 * forward again. Only the noise is demosaicked and processed: the clean
 * image goes back and forth exactly, so the training target stays the
 * original pixels and the network learns to remove noise, not demosaicking. */

typedef struct {
  float cam2rgb[9]; /* colour correction, camera RGB -> linear sRGB (row-major); rows sum to 1 */
  float rgb_gain;   /* brightness gain of the processing (>= 1) */
  float red_gain, blue_gain; /* white balance, green = 1 */
  float shot, read; /* sensor noise variance = shot * x + read, raw x in [0, 1] */
  float noise_blur; /* sigma (pixels) of the in-camera smoothing of the noise; 0: none */
} AenetCamera;

/* A random camera and ISO: colour matrices, gains and noise levels drawn
 * from ranges of real cameras (read noise drawn together with shot noise,
 * log-linearly, as sensors relate them across ISO). */
void aenet_camera_random(AenetCamera *cam, AenetRng *rng);

/* The stages, each a pure function of one value or pixel; exposed for the
 * tests. The tone curve is a smoothstep on [0, 1]. */
float aenet_camera_srgb_to_linear(float v);
float aenet_camera_linear_to_srgb(float v);
float aenet_camera_tone(float v);
float aenet_camera_tone_inverse(float v);
/* inv (row-major 3×3) = m^-1; FALSE when m is singular. */
gboolean aenet_camera_invert3(float inv[9], const float m[9]);
/* Bilinear demosaicking of an RGGB mosaic (h, w) into rgb (3, h, w). */
void aenet_camera_demosaic(float *rgb, const float *mosaic, int h, int w);

/* Floats of scratch aenet_degrade_camera needs for an h × w image. */
gsize aenet_degrade_camera_scratch_size(int h, int w);
/* image is (3, h, w) sRGB in [0, 1], replaced by what the camera would
 * have written (not yet clipped or quantized). Never allocates. */
void aenet_degrade_camera(float *image, float *scratch, int h, int w, const AenetCamera *cam,
                          AenetRng *rng);

/* ---- Noise as a camera's processing leaves it ---------------------------
 *
 * The camera model above fixes how brightness and colour noise relate (its
 * colour matrices make colour noise about 2.5 times the brightness noise),
 * but cameras' JPEG engines reshape noise: colour noise smoothed into
 * blotches, brightness noise sharpened or kept as fine grain. Real ISO
 * 1600–6400 JPEGs (PolyU) show brightness noise of sigma 3.2 correlated
 * 0.66 with its neighbour and weaker colour noise correlated 0.92. This
 * draws the two separately, after the degradation model of "Practical
 * blind image denoising via Swin-Conv-UNet and data synthesis" (Zhang et
 * al., 2023): random levels, random spatial correlation per component,
 * variance growing with brightness by a random amount. */
typedef struct {
  float luma_sigma;        /* per-channel sigma of the brightness noise, 0–255 scale */
  float chroma_ratio;      /* per-channel sigma of the colour noise / luma_sigma */
  float luma_blur, chroma_blur; /* sigma (pixels) of each component's smoothing; 0: white */
  /* Variance times 1 + d (2 brightness - 1): d = 1, proportional to
   * brightness (sensor shot noise); d = -1, strongest in shadows (shot
   * noise after a camera's tone curve, which lifts them); 0: even. */
  float signal_dependence;
  /* Banding, brightness offsets the same along each row (or column) of
   * the sensor, as its read-out leaves them (the row noise of Wei et al.'s
   * "A physics-based noise formation model", 2020; in PolyU's shots from
   * the EOS 5D Mark II the row means vary by 1.1 levels, smoothly: 0.87
   * correlated from one row to the next): sigma on the 0–255 scale (0:
   * none), that correlation, and whether the bands run down columns. */
  float band_sigma, band_correlation;
  gboolean band_columns;
  /* Mottle, blotches of brightness a few pixels to a few tens across,
   * what a camera's strong noise reduction leaves of its noise (the fine
   * grain smoothed away, the coarse part not; PolyU's shots keep most of
   * their brightness noise at scales over 8 px): sigma on the 0–255 scale
   * (0: none) and the sigma (pixels) of the smoothing that makes it. */
  float mottle_sigma, mottle_blur;
} AenetProcessedNoise;

/* image is (3, h, w) sRGB in [0, 1]; noise is added, not clipped. scratch
 * holds aenet_degrade_camera_scratch_size(h, w) floats. Never allocates. */
void aenet_degrade_processed_noise(float *image, float *scratch, int h, int w,
                                   const AenetProcessedNoise *noise, AenetRng *rng);

/* ---- What photographs go through ----------------------------------------
 *
 * The mix a model for real photographs trains on, ending as every real file
 * ends: clipped, 8-bit, and often JPEG. Per sample: no noise, white Gaussian
 * noise, processed noise or a random camera; then JPEG at a random quality
 * or none. */
typedef struct {
  float p_clean;          /* probability of no noise */
  float p_gaussian;       /* of white Gaussian noise, sigma uniform in 0..sigma_max */
  float p_processed;      /* of processed noise, luma sigma up to sigma_max */
  float sigma_max;        /* (the rest: a random camera) */
  /* Probability that noisy samples (camera or processed noise) are first
   * written as a camera writes them: JPEG at a high quality, uniform in
   * camera_jpeg_min..camera_jpeg_max, which leaves the noise blocky. */
  float p_camera_jpeg;
  int camera_jpeg_min, camera_jpeg_max;
  float p_jpeg;           /* probability of JPEG (again), quality in jpeg_min..jpeg_max */
  int jpeg_min, jpeg_max;
  gboolean jpeg_low_most; /* density falling linearly towards jpeg_max; else uniform */
  /* Probability of a soft scene (out of focus, or a lens's softness):
   * the clean patch itself blurred, sigma 0.5–2 px, before the rest
   * (aenet_degrade_photo_scene). Sharp training photos alone teach a
   * model that fine variation is texture to keep. */
  float p_soft;
  float chroma_ratio_max; /* processed noise's colour / brightness noise up to this */
  float p_banding;        /* processed noise's probability of banding */
  float p_mottle;         /* processed noise's probability of mottle */
} AenetPhotoMix;

/* Processed noise as mix draws it: luma_sigma log-uniform in
 * 1..sigma_max, chroma_ratio log-uniform in 0.25..chroma_ratio_max,
 * signal_dependence uniform in -1..1, the rest over ranges that hold real
 * JPEGs' measurements; banding with probability p_banding, band_sigma
 * 0.05–0.35 times luma_sigma, band_correlation 0–0.95, columns a third
 * of the time (portrait photos); mottle with probability p_mottle,
 * mottle_sigma 0.3–1.2 times luma_sigma (at most 8), mottle_blur 2–6 px. */
void aenet_processed_noise_random(AenetProcessedNoise *noise, const AenetPhotoMix *mix,
                                  AenetRng *rng);

/* For blind photo denoisers: 20 % no noise, 10 % Gaussian up to 50, 35 %
 * processed (colour noise 0.25–4 times the brightness noise), 35 %
 * camera; noisy ones 75 % as the camera's JPEG at 85–98; 65 % JPEG at
 * 30–95; 50 % soft scenes. */
extern const AenetPhotoMix aenet_photo_mix_denoise;
/* For the low-resolution inputs of upscalers of JPEG photos, which the
 * job gives only images with JPEG's trace (up to quality 92 or so; clean
 * ones go to the clean upscalers): 80 % no noise, 20 % processed up to
 * 10; no camera JPEG; all JPEG at 30–92, uniform. */
extern const AenetPhotoMix aenet_photo_mix_upscale;

/* For the denoiser of strongly compressed JPEGs, which the job gives only
 * images whose JPEG steps say quality 60 or lower (job.h): 70 % no noise,
 * 30 % processed up to 10 before the compression; all JPEG at 15–75,
 * uniform; 50 % soft scenes. */
extern const AenetPhotoMix aenet_photo_mix_strong_jpeg;

/* For fine-tuning the blind photo denoiser on noise as cameras' own JPEGs
 * leave it, mostly brightness grain (their engines smooth colour noise
 * away), often with banding: 20 % no noise, 5 % Gaussian up to 50, 60 %
 * processed with colour noise at most as strong as the brightness noise
 * and half of it banded, 15 % camera; the rest as
 * aenet_photo_mix_denoise. */
extern const AenetPhotoMix aenet_photo_mix_camera_grain;

/* For fine-tuning the blind photo denoiser on mottle: the photo mix with
 * 70 % of its processed noise mottled. */
extern const AenetPhotoMix aenet_photo_mix_mottle;

/* A JPEG quality drawn as the mix says. */
int aenet_photo_mix_jpeg_quality(const AenetPhotoMix *mix, AenetRng *rng);

/* The scene: a clean patch (3, h, w), target and input alike, made soft
 * with the mix's p_soft. scratch as below. */
void aenet_degrade_photo_scene(float *image, float *scratch, int h, int w,
                               const AenetPhotoMix *mix, AenetRng *rng);

/* image is (3, h, w); scratch holds aenet_degrade_camera_scratch_size(h, w)
 * floats. FALSE with error only on a JPEG failure. */
gboolean aenet_degrade_photo(float *image, float *scratch, int h, int w, const AenetPhotoMix *mix,
                             AenetRng *rng, GError **error);

G_END_DECLS

#endif
