// CUDA prelude of rnn.cl's kernels (cuda.py compiles this file followed by rnn.cl with
// NVRTC): the OpenCL spellings those kernels use, in CUDA C++.
#if KIND == 2
typedef double T;
#else
typedef float T;
#endif
#define KERNEL extern "C" __global__ void
#define GLOBAL
#define GID ((long)blockIdx.x * blockDim.x + threadIdx.x)  // long is 64-bit on CUDA's LP64 hosts
#define DEVICE __device__ static
