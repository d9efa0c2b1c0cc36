// OpenBLAS's CBLAS interface (cblas_sgemm, openblas_set_num_threads, ...).
#include <cblas.h>

// LAPACK routines that Debian's libopenblas also exports (Fortran calling convention:
// every argument by pointer, the hidden lengths of character arguments last).
#include <stddef.h>
void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a, const int *lda,
             const double *vl, const double *vu, const int *il, const int *iu, const double *abstol,
             int *m, double *w, double *z, const int *ldz, int *isuppz, double *work, const int *lwork,
             int *iwork, const int *liwork, int *info, size_t jobzLength, size_t rangeLength, size_t uploLength);
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uploLength);
void dgesv_(const int *n, const int *nrhs, double *a, const int *lda, int *ipiv, double *b, const int *ldb, int *info);
