/// Vector-Jacobian products of `conv2d` (any kernel, stride and padding), image by image so that
/// memory holds one image's unfolded patches: the weight gradient is `Σ_b dy_b·col(x_b)ᵀ`, summed
/// over the images in order, and the input gradient folds `Wᵀ·dy_b` back onto the image (col2im).
extension Tensor {
    /// Gradients of `x.conv2d(weight:bias:stride:padding:)` for the output gradient `dy`; each is
    /// computed only when asked for.
    static func conv2dGradients(_ dy: Tensor, input x: Tensor, weight: Tensor, stride: Int, padding: Padding2D,
                                input wantInput: Bool, weight wantWeight: Bool, bias wantBias: Bool)
        -> (input: Tensor?, weight: Tensor?, bias: Tensor?) {
        let (n, cin, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (cout, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3])
        let (ho, wo) = (dy.shape[2], dy.shape[3])
        let k = cin * kh * kw, p = ho * wo
        let pointwise = kh == 1 && kw == 1 && stride == 1 && padding == .uniform(0)
        var dx: Tensor? = wantInput ? Tensor(uninitialized: x.shape) : nil
        var dw: Tensor? = wantWeight ? Tensor(zeros: weight.shape) : nil
        var db: Tensor? = nil
        if wantBias {
            // Per channel, images then pixels in order.
            var sums = Tensor(zeros: [cout])
            dy.storage.withUnsafeBufferPointer { g in
                sums.storage.withUnsafeMutableBufferPointer { s in
                    let gp = g.baseAddress!, sp = s.baseAddress!
                    parallelFor(cout) { o in
                        var total: Float = 0
                        for b in 0..<n {
                            let row = gp + (b * cout + o) * p
                            for i in 0..<p { total += row[i] }
                        }
                        sp[o] = total
                    }
                }
            }
            db = sums
        }
        guard wantInput || wantWeight else { return (nil, nil, db) }
        let columns = pointwise ? nil : UnsafeMutablePointer<Float>.allocate(capacity: k * p)
        let columnGradient = wantInput && !pointwise ? UnsafeMutablePointer<Float>.allocate(capacity: k * p) : nil
        defer { columns?.deallocate(); columnGradient?.deallocate() }
        x.storage.withUnsafeBufferPointer { xs in
            weight.storage.withUnsafeBufferPointer { ws in
                dy.storage.withUnsafeBufferPointer { gs in
                    let (xb, wb, gb) = (xs.baseAddress!, ws.baseAddress!, gs.baseAddress!)
                    for b in 0..<n {
                        let image = xb + b * cin * h * w
                        let g = gb + b * cout * p
                        if wantWeight {
                            var source = image
                            if let columns {
                                Tensor.im2col(image, cin: cin, h: h, w: w, kh: kh, kw: kw, stride: stride, padding: padding,
                                              ho: ho, wo: wo, into: columns)
                                source = UnsafePointer(columns)
                            }
                            dw!.storage.withUnsafeMutableBufferPointer { d in
                                BLAS.sgemm(transA: false, transB: true, m: cout, n: k, k: p, a: g, lda: p, b: source, ldb: p,
                                           beta: b == 0 ? 0 : 1, c: d.baseAddress!, ldc: k)
                            }
                        }
                        if wantInput {
                            dx!.storage.withUnsafeMutableBufferPointer { d in
                                let target = d.baseAddress! + b * cin * h * w
                                // Wᵀ·dy: [k, p]; for a 1x1 convolution that is the image's gradient itself.
                                BLAS.sgemm(transA: true, transB: false, m: k, n: p, k: cout, a: wb, lda: k, b: g, ldb: p,
                                           c: columnGradient ?? target, ldc: p)
                                if let columnGradient {
                                    Tensor.col2im(columnGradient, cin: cin, h: h, w: w, kh: kh, kw: kw, stride: stride,
                                                  padding: padding, ho: ho, wo: wo, into: target)
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dx, dw, db)
    }

    /// The adjoint of `im2col`: adds each patch column back onto the pixels it was read from,
    /// into a CHW image it overwrites. Each channel is folded on one core, in a fixed order.
    static func col2im(_ col: UnsafePointer<Float>, cin: Int, h: Int, w: Int, kh: Int, kw: Int, stride: Int,
                       padding: Padding2D, ho: Int, wo: Int, into image: UnsafeMutablePointer<Float>) {
        let p = ho * wo
        parallelFor(cin) { c in
            let plane = image + c * h * w
            plane.update(repeating: 0, count: h * w)
            for i in 0..<kh {
                for j in 0..<kw {
                    let row = col + ((c * kh + i) * kw + j) * p
                    for oy in 0..<ho {
                        let iy = oy * stride + i - padding.top
                        guard iy >= 0 && iy < h else { continue }
                        let dst = plane + iy * w, src = row + oy * wo
                        for ox in 0..<wo {
                            let ix = ox * stride + j - padding.left
                            if ix >= 0 && ix < w { dst[ix] += src[ox] }
                        }
                    }
                }
            }
        }
    }
}
