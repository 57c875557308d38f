# The camera-shake synthesis of the cross-kind mix, sourced by cross_kind_data.sh (here) and gpu_job.sh (on a GPU
# machine), so the pairs drawn there are drawn like the ones made here. Not run on its own.
# The camera model: measured kernels for a quarter of the pairs, Poisson-Gaussian noise up to 0.02, JPEG 70-98 on 40%.
# --kernel-offset keep: the measured kernels as stored, off-centre ones shifting their pairs, as the shipped weights'
# training pairs were drawn (synth centres them by default since; the validation set is centred).
SHAKE_CAMERA=(--real-fraction 0.25 --noise 0.02 --jpeg 70-98 --jpeg-prob 0.4 --kernel-offset keep)
# Kernel lengths at each source's scale: 481x321 photos up to ~35 px, 720p GoPro frames 5-41 px, 1024 px urban
# scenes and photos up to 61 px (handheld photos blur up to ~60 px); crops of 320 px except BSDS500 (whole photos).
declare -A SHAKE_KSIZE=([bsds500]=7-35 [urban100]=9-61 [gopro_frames]=5-41 [photos]=7-61)
declare -A SHAKE_CROP=([bsds500]= [urban100]=320 [gopro_frames]=320 [photos]=320)
