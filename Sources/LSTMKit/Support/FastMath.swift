/// Vectorised exp, sigmoid and tanh over contiguous Float runs. libm's expf/tanhf cost tens of
/// nanoseconds per call, which would dominate an LSTM step; these use the Cephes polynomial for
/// exp (about 2 ulp) and stay within a few 1e-7 of the exact functions, well inside what the
/// finite-difference and NumPy reference tests tolerate.
typealias F8 = SIMD8<Float>

@inline(__always)
func exp8(_ xIn: F8) -> F8 {
    let x = xIn.clamped(lowerBound: F8(repeating: -87.3), upperBound: F8(repeating: 88.3))
    // n = round(x / ln 2) via the 1.5 * 2^23 trick, which also leaves n in the low mantissa bits.
    let magic = F8(repeating: 12_582_912.0)
    let t = x * F8(repeating: 1.442_695_04) + magic
    let n = t - magic
    var r = x - n * F8(repeating: 0.693_359_375)
    r = r - n * F8(repeating: -2.121_944_4e-4)
    var p = F8(repeating: 1.987_569_15e-4)
    p = p * r + F8(repeating: 1.398_199_950_7e-3)
    p = p * r + F8(repeating: 8.333_451_907_3e-3)
    p = p * r + F8(repeating: 4.166_579_589_4e-2)
    p = p * r + F8(repeating: 1.666_666_545_9e-1)
    p = p * r + F8(repeating: 5.000_000_120_1e-1)
    p = p * (r * r) + r + F8(repeating: 1)
    let tBits = unsafeBitCast(t, to: SIMD8<Int32>.self)
    let magicBits = unsafeBitCast(magic, to: SIMD8<Int32>.self)
    let scale = unsafeBitCast((tBits &- magicBits &+ 127) &<< 23, to: F8.self)
    return p * scale
}

@inline(__always)
func sigmoid8(_ x: F8) -> F8 { F8(repeating: 1) / (F8(repeating: 1) + exp8(-x)) }

@inline(__always)
func tanh8(_ x: F8) -> F8 {
    // 1 - 2/(e^{2|x|}+1) cancels badly near 0, so small |x| uses the odd Taylor series instead.
    let ax = x.replacing(with: -x, where: x .< 0)
    let e = exp8(ax + ax)
    var big = F8(repeating: 1) - F8(repeating: 2) / (e + F8(repeating: 1))
    big.replace(with: -big, where: x .< 0)
    let x2 = x * x
    var p = F8(repeating: 62.0 / 2835.0)
    p = p * x2 + F8(repeating: -17.0 / 315.0)
    p = p * x2 + F8(repeating: 2.0 / 15.0)
    p = p * x2 + F8(repeating: -1.0 / 3.0)
    let small = x + x * x2 * p
    return small.replacing(with: big, where: ax .>= F8(repeating: 0.3))
}

@inline(__always)
private func apply(_ p: UnsafeMutablePointer<Float>, _ n: Int, _ f: (F8) -> F8) {
    var i = 0
    while i + 8 <= n {
        let v = UnsafeRawPointer(p + i).loadUnaligned(as: F8.self)
        UnsafeMutableRawPointer(p + i).storeBytes(of: f(v), as: F8.self)
        i += 8
    }
    if i < n {
        var v = F8()
        for j in 0..<(n - i) { v[j] = p[i + j] }
        let r = f(v)
        for j in 0..<(n - i) { p[i + j] = r[j] }
    }
}

func sigmoidInPlace(_ p: UnsafeMutablePointer<Float>, _ n: Int) { apply(p, n, sigmoid8) }
func tanhInPlace(_ p: UnsafeMutablePointer<Float>, _ n: Int) { apply(p, n, tanh8) }
func expInPlace(_ p: UnsafeMutablePointer<Float>, _ n: Int) { apply(p, n, exp8) }

@inline(__always)
func sigmoid(_ x: Float) -> Float { sigmoid8(F8(repeating: x))[0] }
@inline(__always)
func fastTanh(_ x: Float) -> Float { tanh8(F8(repeating: x))[0] }
