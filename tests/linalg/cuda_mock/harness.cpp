#include "mock.h"
#include "kernels.cu"  // written by the test from numopt/linalg/_cg_cupy.py
#include <vector>
#include <cstdio>
#include <cstdlib>
// CG / red-black SSOR-PCG on 2-D Poisson m x m, b_i = sin(i), driven as _cg_cupy.FusedCG
template <class F> void launch(int grid, F f) { gridDim.x = grid; for (unsigned b = 0; b < (unsigned)grid; ++b) { blockIdx.x = b; f(); } }
int main(int argc, char** argv) {
  int m = atoi(argv[1]); int pcg = atoi(argv[2]); double omega = atof(argv[3]); double thr = atof(argv[4]); int k = atoi(argv[5]);
  int n = m * m; std::vector<int> ip{0}, ix; std::vector<double> a;
  for (int r = 0; r < m; ++r) for (int c = 0; c < m; ++c) { int i = r * m + c;
    if (r > 0) { ix.push_back(i - m); a.push_back(-1); }
    if (c > 0) { ix.push_back(i - 1); a.push_back(-1); }
    ix.push_back(i); a.push_back(4);
    if (c < m - 1) { ix.push_back(i + 1); a.push_back(-1); }
    if (r < m - 1) { ix.push_back(i + m); a.push_back(-1); }
    ip.push_back(ix.size()); }
  std::vector<double> b(n), x(n, 0), r(n), z(n), p(n, 0), pn(n), q(n), dinv(n, 0.25), fs(n, 0);
  std::vector<int> red, black;
  for (int i = 0; i < n; ++i) { b[i] = sin(i + 1.0); r[i] = b[i]; (((i / m) + (i % m)) % 2 == 0 ? red : black).push_back(i); }
  for (int i : red) fs[i] = omega * 0.25;
  int R = 2 * k + 4, ahead = k + 1; std::vector<double> rr(R, 0), pq(R, 0), rho(R, 0);
  double rr0 = 0; for (double v : r) rr0 += v * v; rr[0] = rr0;
  double* rhop = pcg ? rho.data() : rr.data();
  for (int i = 0; i < n; ++i) z[i] = pcg ? fs[i] * r[i] : r[i];
  double* zp = pcg ? z.data() : r.data();
  double thr2 = thr * thr; int G = 7; int nit = -1;
  for (long long it = 0; it < 100000 && nit < 0; ++it) {
    if (pcg) {
      launch(G, [&] { ssor_color(ip.data(), ix.data(), a.data(), dinv.data(), r.data(), z.data(), black.data(), black.size(), omega * (2 - omega), 0, 1, rho.data(), rr.data(), R, it, thr2); });
      launch(G, [&] { ssor_color(ip.data(), ix.data(), a.data(), dinv.data(), r.data(), z.data(), red.data(), red.size(), omega, 1 - omega, 1, rho.data(), rr.data(), R, it, thr2); });
    }
    launch(G, [&] { spmv_direction(ip.data(), ix.data(), a.data(), zp, p.data(), pn.data(), q.data(), n, rhop, pq.data(), pcg ? rho.data() : pq.data(), rr.data(), R, it, ahead, thr2); });
    std::swap(p, pn);
    launch(G, [&] { update(x.data(), r.data(), p.data(), q.data(), n, rhop, pq.data(), rr.data(), R, it, ahead, thr2, pcg, pcg ? z.data() : r.data(), pcg ? fs.data() : r.data()); });
    if ((it + 1) % k == 0) for (long long mm = it + 1 - k + 1; mm <= it + 1; ++mm) if (rr[mm % R] < thr2) { nit = mm; break; }
  }
  printf("%d\n", nit); for (int i = 0; i < n; ++i) printf("%.17g\n", x[i]);
}
