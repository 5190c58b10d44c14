/*
 * otp_link_recover in process, through the C ABI: what a C, Java or .NET
 * child pays per call once the library is loaded. bench/ffi.sh builds it
 * against the release static library and runs it on a 1-account store:
 *
 *     ffi_recover STORE USER_KEY PASS_KEY [ITERATIONS]
 *
 * Each call is timed on its own with CLOCK_MONOTONIC after 200 warm-up
 * calls; prints the median, the 10th and 90th percentiles and the mean, in
 * microseconds. Every call must succeed and give the same lengths.
 */

#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "otp_link.h"

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static size_t user_len, pass_len;
static char user[OTP_LINK_MAX_VALUE_LEN], pass[OTP_LINK_MAX_VALUE_LEN];

static void recover_once(const char *store, const char *user_key, const char *pass_key)
{
    int code = otp_link_recover(store, user_key, pass_key, user, sizeof user, &user_len, pass,
                                sizeof pass, &pass_len);
    if (code != OTP_LINK_OK) {
        char message[1024];
        otp_link_last_error(message, sizeof message, NULL);
        fprintf(stderr, "ffi_recover: %d: %s\n", code, message);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: ffi_recover STORE USER_KEY PASS_KEY [ITERATIONS]\n");
        return 2;
    }
    long n = argc == 5 ? atol(argv[4]) : 20000;
    if (n < 100) {
        fprintf(stderr, "ffi_recover: at least 100 iterations\n");
        return 2;
    }
    for (int i = 0; i < 200; i++) {
        recover_once(argv[1], argv[2], argv[3]);
    }
    size_t first_user = user_len, first_pass = pass_len;
    double *times = malloc((size_t)n * sizeof *times);
    if (times == NULL) {
        perror("malloc");
        return 1;
    }
    double sum = 0;
    for (long i = 0; i < n; i++) {
        double start = now_us();
        recover_once(argv[1], argv[2], argv[3]);
        times[i] = now_us() - start;
        sum += times[i];
        if (user_len != first_user || pass_len != first_pass) {
            fprintf(stderr, "ffi_recover: call %ld gave other values\n", i);
            return 1;
        }
    }
    qsort(times, (size_t)n, sizeof *times, by_value);
    printf("otp_link_recover, %ld calls: median %.1f us, p10 %.1f us, p90 %.1f us, mean %.1f us\n",
           n, times[n / 2], times[n / 10], times[n * 9 / 10], sum / (double)n);
    free(times);
    return 0;
}
