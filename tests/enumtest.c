/*
 * enumtest: VMI_ENUM_IMPL's pair of functions, on a table of the tests'
 * own and on the definition's source types
 */
#include "conf/vmi_conf.h"
#include "conf/vmi_enum.h"

typedef enum {
    TEST_COLOUR_RED,
    TEST_COLOUR_GREEN,
    TEST_COLOUR_BLUE,

    TEST_COLOUR_LAST
} testColour;

VMI_ENUM_DECL(testColour);
VMI_ENUM_IMPL(testColour, TEST_COLOUR_LAST,
              "red",
              "green",
              "blue");


static void
testRoundTrip(void)
{
    int i;

    for (i = 0; i < TEST_COLOUR_LAST; i++)
        g_assert_cmpint(testColourFromString(testColourToString(i)), ==, i);
    g_assert_cmpstr(testColourToString(TEST_COLOUR_GREEN), ==, "green");
}


static void
testOutOfRange(void)
{
    g_assert_null(testColourToString(-1));
    g_assert_null(testColourToString(TEST_COLOUR_LAST));
    g_assert_cmpint(testColourFromString("purple"), ==, -1);
    g_assert_cmpint(testColourFromString("Red"), ==, -1);      /* exact match only */
    g_assert_cmpint(testColourFromString(""), ==, -1);
}


static void
testSourceType(void)
{
    g_assert_cmpstr(vmiSourceTypeToString(VMI_SOURCE_UNIX), ==, "unix");
    g_assert_cmpstr(vmiSourceTypeToString(VMI_SOURCE_VSOCK), ==, "vsock");
    g_assert_cmpint(vmiSourceTypeFromString("vsock"), ==, VMI_SOURCE_VSOCK);
    g_assert_null(vmiSourceTypeToString(VMI_SOURCE_LAST));
}


int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/enum/round-trip", testRoundTrip);
    g_test_add_func("/enum/out-of-range", testOutOfRange);
    g_test_add_func("/enum/source-type", testSourceType);
    return g_test_run();
}
