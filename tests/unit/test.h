/* test.h: what every unit test includes: cmocka, in the order it needs. */
#ifndef BP_TEST_H
#define BP_TEST_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#endif
