#!/usr/bin/env python3
"""Fits the FastMath erf/erfc polynomials (Sources/TensorKernels/FastMath.swift). Needs numpy, mpmath."""
import numpy as np
from math import erf, erfc
import mpmath
# small range: erf(x)/x as poly in x^2 on [0, 1]
xs=np.linspace(1e-6,1.0,4000)
y=np.array([erf(v)/v for v in xs])
for deg in [5,6,7]:
    c=np.polynomial.polynomial.polyfit(xs**2,y,deg, w=None)
    # evaluate in float32 Horner
    x32=np.linspace(0,1,100001).astype(np.float32)
    u=x32*x32
    acc=np.float32(c[-1])
    for k in range(deg-1,-1,-1): acc=(acc*u+np.float32(c[k])).astype(np.float32)
    approx=(x32*acc).astype(np.float32)
    ref=np.array([erf(float(v)) for v in x32])
    print('small deg',deg, np.max(np.abs(approx-ref)), np.max(np.abs(approx-ref)/np.maximum(np.abs(ref),1e-30)))
    if deg==6: small=c
# large: g(x)=erfc(x)*exp(x^2) on [1, 4], poly in t = 1/x? try x
xs=np.linspace(1.0,4.0,4000)
g=np.array([float(mpmath.erfc(v)*mpmath.exp(v*v)) for v in xs])
for deg in [8,10,12]:
    t=1/xs
    c=np.polynomial.polynomial.polyfit(t,g,deg)
    x32=np.linspace(1,4,100001).astype(np.float32)
    tt=(np.float32(1)/x32).astype(np.float32)
    acc=np.float32(c[-1])
    for k in range(deg-1,-1,-1): acc=(acc*tt+np.float32(c[k])).astype(np.float32)
    e=np.exp(-(x32*x32).astype(np.float64)).astype(np.float32)
    approx=(np.float32(1)-(e*acc).astype(np.float32)).astype(np.float32)
    ref=np.array([erf(float(v)) for v in x32])
    refc=np.array([erfc(float(v)) for v in x32])
    print('large deg',deg,np.max(np.abs(approx-ref)), 'erfc rel', np.max(np.abs((e*acc).astype(np.float64)-refc)/refc))
    if deg==10: large=c
print("small",repr(small.tolist()))
print("large",repr(large.tolist()))

mpmath.mp.dps=30
xs=np.concatenate([np.linspace(1.0,2.0,3000),np.linspace(2.0,10.0,3000)])
t=1/xs
g=np.array([float(mpmath.erfc(v)*mpmath.exp(v*v)) for v in xs])
# Chebyshev fit on t in [0.1,1]
for deg in [10,12,14]:
    cheb=np.polynomial.chebyshev.Chebyshev.fit(t,g,deg,domain=[0.1,1.0])
    c=cheb.convert(kind=np.polynomial.Polynomial).coef
    x32=np.linspace(1,10,200001).astype(np.float32)
    tt=(np.float32(1)/x32).astype(np.float32)
    acc=np.float32(c[-1])
    for k in range(deg-1,-1,-1): acc=(acc*tt+np.float32(c[k])).astype(np.float32)
    refg=np.array([float(mpmath.erfc(float(v))*mpmath.exp(float(v)**2)) for v in x32[::50]])
    print(deg, np.max(np.abs(acc[::50]-refg)/refg))
    if deg==12: best=c
print(repr(best.tolist()))
