/* srv.c - RFC 2782 SRV order: priority, then weighted random; pure. */
#include <string.h>

#include "srv.h"

void srv_order(const unsigned *prio, const unsigned *weight, int n, int *order,
	       uint32_t (*rand)(void *arg), void *rand_arg)
{
	for (int i = 0; i < n; i++)
		order[i] = i;
	for (int i = 1; i < n; i++) { /* stable insertion sort by priority */
		int x = order[i], j = i - 1;
		while (j >= 0 && prio[order[j]] > prio[x]) {
			order[j + 1] = order[j];
			j--;
		}
		order[j + 1] = x;
	}
	for (int i = 0; i < n;) {
		int end = i;
		while (end < n && prio[order[end]] == prio[order[i]])
			end++;
		/* RFC 2782's selection: a running sum over the records left;
		 * the first whose sum reaches a uniform draw in 0..total goes
		 * next. Weight 0 records are put first so they are picked
		 * only rarely (when the draw is 0). */
		int zeros = i;
		for (int a = i; a < end; a++)
			if (weight[order[a]] == 0) {
				int x = order[a];
				memmove(&order[zeros + 1], &order[zeros], sizeof *order * (size_t)(a - zeros));
				order[zeros++] = x;
			}
		for (int k = i; k < end - 1; k++) {
			unsigned long total = 0, run = 0;
			for (int m = k; m < end; m++)
				total += weight[order[m]];
			unsigned long draw = total ? (unsigned long)((double)rand(rand_arg) / 4294967296.0 *
							     (double)(total + 1)) : 0;
			int pick = k;
			for (int m = k; m < end; m++) {
				run += weight[order[m]];
				if (run >= draw) {
					pick = m;
					break;
				}
			}
			int x = order[pick];
			memmove(&order[k + 1], &order[k], sizeof *order * (size_t)(pick - k));
			order[k] = x;
		}
		i = end;
	}
}
