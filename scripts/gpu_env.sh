# Source on the GPU machine (device tool) before any scripts/gpu_*: installs the carried
# wheels (.whl: asv and its needs, pyopencl), registers the NVIDIA OpenCL driver and sets
# the paths asv and hakl read. See reports/h100/README.md for the runs that use it.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || return 1
mkdir -p /tmp/icd && echo /usr/local/nvidia/lib64/libnvidia-opencl.so.1 > /tmp/icd/nvidia.icd
export OCL_ICD_VENDORS=/tmp/icd HAKL_OPENCL_DEVICE=NVIDIA
export PYTHONPATH=$PWD:/tmp/site ASV_PYTHONPATH=$PWD:/tmp/site   # asv drops PYTHONPATH otherwise
export HAKL_CACHE_DIR=/tmp/hc CUPY_CACHE_DIR=/tmp/hc/cupy PYTHONUNBUFFERED=1
export OUT=${OUT:-$PWD/out}; mkdir -p "$OUT"
