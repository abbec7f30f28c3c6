import Foundation

/// A rendered view: RGB in [0, 1] (H×W×3, row-major) and, per pixel, what is seen there:
/// `i + 1` for `scene.objects[i]`, `Rendering.ground` (0) or `Rendering.sky` (255).
public struct Rendering: Sendable {
    public var width: Int, height: Int
    public var rgb: [Float]
    public var objectIndex: [UInt8]

    public static let ground: UInt8 = 0
    public static let sky: UInt8 = 255

    /// 8-bit RGB bytes.
    public var bytes: [UInt8] { rgb.map { UInt8(max(0, min(255, ($0 * 255).rounded()))) } }
}

/// A small ray caster: ground plane with procedural texture, sky, primitives, Lambert shading
/// and soft shadows (each object's bounding sphere gives a smooth penumbra).
public struct WorldRenderer: Sendable {
    public let scene: WorldScene
    let light: Lighting

    struct Lighting {
        var sunDirection: SIMD3<Float>
        var sun: SIMD3<Float>
        var ambient: SIMD3<Float>
        var skyZenith: SIMD3<Float>, skyHorizon: SIMD3<Float>
    }

    public init(scene: WorldScene) {
        self.scene = scene
        switch scene.time {
        case .day:
            light = Lighting(sunDirection: Self.normalize([0.4, 0.85, 0.35]), sun: [1.0, 0.97, 0.9], ambient: [0.32, 0.35, 0.42],
                             skyZenith: [0.25, 0.5, 0.9], skyHorizon: [0.7, 0.82, 0.95])
        case .sunset:
            light = Lighting(sunDirection: Self.normalize([-0.7, 0.35, -0.5]), sun: [1.1, 0.72, 0.42], ambient: [0.42, 0.34, 0.36],
                             skyZenith: [0.3, 0.25, 0.5], skyHorizon: [1.0, 0.55, 0.3])
        case .night:
            light = Lighting(sunDirection: Self.normalize([0.3, 0.7, -0.4]), sun: [0.55, 0.6, 0.8], ambient: [0.3, 0.32, 0.42],
                             skyZenith: [0.02, 0.03, 0.1], skyHorizon: [0.08, 0.1, 0.22])
        }
    }

    @inline(__always) static func normalize(_ a: SIMD3<Float>) -> SIMD3<Float> { a / (a * a).sum().squareRoot() }
    @inline(__always) static func dot(_ a: SIMD3<Float>, _ b: SIMD3<Float>) -> Float { (a * b).sum() }

    /// Renders the scene through `camera` at `width`×`height`.
    public func render(camera: Camera, width: Int, height: Int) -> Rendering {
        var rgb = [Float](repeating: 0, count: width * height * 3)
        var ids = [UInt8](repeating: 0, count: width * height)
        let f = camera.focal(width: width)
        for y in 0..<height {
            for x in 0..<width {
                let d = camera.rayDirection(x: Float(x) + 0.5, y: Float(y) + 0.5, width: width, height: height, focal: f)
                let (color, id) = shade(origin: camera.position, direction: d)
                let i = y * width + x
                rgb[3 * i] = color.x; rgb[3 * i + 1] = color.y; rgb[3 * i + 2] = color.z
                ids[i] = id
            }
        }
        return Rendering(width: width, height: height, rgb: rgb, objectIndex: ids)
    }

    /// Renders a horizontal strip of a cylindrical panorama: columns are azimuths over
    /// `fieldOfView` radians (2π for 360°) starting at `startAngle`, rows a pinhole vertical.
    public func renderCylindrical(center: SIMD3<Float>, startAngle: Float, fieldOfView: Float, width: Int, height: Int,
                                  verticalFieldOfView: Float = 0.9, pitch: Float = -0.25) -> Rendering {
        var rgb = [Float](repeating: 0, count: width * height * 3)
        var ids = [UInt8](repeating: 0, count: width * height)
        let fv = Float(height) / 2 / Foundation.tan(verticalFieldOfView / 2)
        for x in 0..<width {
            let azimuth = startAngle + fieldOfView * (Float(x) + 0.5) / Float(width)
            let forward = SIMD3<Float>(Foundation.sin(azimuth), 0, -Foundation.cos(azimuth))
            for y in 0..<height {
                let v = (Float(height) / 2 - (Float(y) + 0.5)) / fv + pitch
                let d = Self.normalize(forward + SIMD3<Float>(0, v, 0))
                let (color, id) = shade(origin: center, direction: d)
                let i = y * width + x
                rgb[3 * i] = color.x; rgb[3 * i + 1] = color.y; rgb[3 * i + 2] = color.z
                ids[i] = id
            }
        }
        return Rendering(width: width, height: height, rgb: rgb, objectIndex: ids)
    }

    /// The first surface along a ray: its distance and id (`Rendering.ground`, or object index + 1),
    /// or nil for the sky. The same tests as `shade`, without the lighting.
    public func surface(origin: SIMD3<Float>, direction d: SIMD3<Float>) -> (distance: Float, id: UInt8)? {
        var nearest = Float.infinity
        var hitObject = -1
        for (i, object) in scene.objects.enumerated() {
            if let (t, _) = Self.intersect(object, origin: origin, direction: d), t < nearest { nearest = t; hitObject = i }
        }
        let groundT = d.y < -1e-4 ? -origin.y / d.y : Float.infinity
        if hitObject >= 0 && nearest < groundT { return (nearest, UInt8(hitObject + 1)) }
        if groundT.isFinite && groundT < 80 { return (groundT, Rendering.ground) }
        return nil
    }

    /// Colour and object id seen along a ray.
    @inline(__always)
    func shade(origin: SIMD3<Float>, direction d: SIMD3<Float>) -> (SIMD3<Float>, UInt8) {
        var nearest = Float.infinity
        var normal = SIMD3<Float>(0, 1, 0)
        var hitObject = -1
        for (i, object) in scene.objects.enumerated() {
            if let (t, n) = Self.intersect(object, origin: origin, direction: d), t < nearest {
                nearest = t; normal = n; hitObject = i
            }
        }
        let groundT = d.y < -1e-4 ? -origin.y / d.y : Float.infinity
        if hitObject >= 0 && nearest < groundT {
            let p = origin + d * nearest
            let albedo = scene.objects[hitObject].color.albedo
            let color = lit(albedo: albedo, normal: normal, point: p, exclude: hitObject, specular: 0.15, view: d)
            return (tonemap(color), UInt8(hitObject + 1))
        }
        if groundT.isFinite && groundT < 80 {
            let p = origin + d * groundT
            var albedo = groundAlbedo(p.x, p.z, distance: groundT)
            var reflection: Float = 0
            if scene.ground == .water { reflection = 0.35 + 0.4 * Foundation.pow(1 - abs(d.y), 3) }
            var color = lit(albedo: albedo, normal: [0, 1, 0], point: p, exclude: -1, specular: scene.ground == .water ? 0.4 : 0, view: d)
            if reflection > 0 {
                let r = SIMD3<Float>(d.x, -d.y, d.z)
                color = color * (1 - reflection) + sky(r) * reflection
            }
            // Fade into the horizon haze.
            let haze = min(1, groundT / 60)
            albedo = color * (1 - haze) + light.skyHorizon * haze
            return (tonemap(albedo), 0)
        }
        return (tonemap(sky(d)), Rendering.sky)
    }

    func sky(_ d: SIMD3<Float>) -> SIMD3<Float> {
        let t = max(0, d.y)
        var c = light.skyHorizon * (1 - t) + light.skyZenith * t
        let sunAmount = max(0, Self.dot(d, light.sunDirection))
        c += light.sun * (0.25 * Foundation.pow(sunAmount, 24))
        if scene.time == .night {
            // A few faint stars, fixed on the sky dome.
            let h = Self.hash(Int32((d.x * 180).rounded()), Int32((d.y * 180).rounded()) &+ Int32((d.z * 180).rounded()) &* 7)
            if h > 0.996 && d.y > 0.05 { c += SIMD3<Float>(repeating: 0.5) }
        }
        return c
    }

    func tonemap(_ c: SIMD3<Float>) -> SIMD3<Float> {
        SIMD3<Float>(min(1, c.x), min(1, c.y), min(1, c.z))
    }

    /// Ambient + Lambert sun light with a soft shadow, plus a little specular.
    func lit(albedo: SIMD3<Float>, normal n: SIMD3<Float>, point p: SIMD3<Float>, exclude: Int, specular: Float, view: SIMD3<Float>) -> SIMD3<Float> {
        let l = light.sunDirection
        let diffuse = max(0, Self.dot(n, l))
        var visibility: Float = 1
        if diffuse > 0 {
            for (i, object) in scene.objects.enumerated() where i != exclude {
                visibility = min(visibility, Self.softShadow(object, point: p, direction: l))
            }
        }
        let skyLight = 0.5 + 0.5 * n.y
        var c = albedo * (light.ambient * skyLight + light.sun * (diffuse * visibility))
        if specular > 0 && diffuse > 0 {
            let h = Self.normalize(l - view)
            c += light.sun * (specular * visibility * Foundation.pow(max(0, Self.dot(n, h)), 32))
        }
        return c
    }

    /// 1 in full light, 0 in full shadow, smooth in between: the shadow ray's closest approach
    /// to the object's bounding sphere, relative to its radius.
    static func softShadow(_ o: WorldObject, point p: SIMD3<Float>, direction l: SIMD3<Float>) -> Float {
        let radius = max(o.size, o.height / 2) * 0.95
        let centre = SIMD3<Float>(o.position.x, o.height / 2, o.position.y)
        let oc = centre - p
        let along = dot(oc, l)
        if along <= 0 { return 1 }
        let closest = (dot(oc, oc) - along * along).squareRoot()
        let penumbra = radius * 0.35 + along * 0.08
        let x = (closest - radius + penumbra) / (2 * penumbra)
        let s = max(0, min(1, x))
        return s * s * (3 - 2 * s)
    }

    // MARK: Intersections (object space: footprint centre at the origin, standing on y = 0)

    static func intersect(_ o: WorldObject, origin: SIMD3<Float>, direction: SIMD3<Float>) -> (Float, SIMD3<Float>)? {
        let ro = origin - SIMD3<Float>(o.position.x, 0, o.position.y)
        switch o.shape {
        case .ball:
            let c = ro - SIMD3<Float>(0, o.size, 0)
            let b = dot(c, direction), cc = dot(c, c) - o.size * o.size
            let disc = b * b - cc
            guard disc >= 0 else { return nil }
            let t = -b - disc.squareRoot()
            guard t > 1e-4 else { return nil }
            return (t, (c + direction * t) / o.size)
        case .cube:
            let (cs, sn) = (Foundation.cos(o.yaw), Foundation.sin(o.yaw))
            func toLocal(_ v: SIMD3<Float>) -> SIMD3<Float> { [cs * v.x - sn * v.z, v.y, sn * v.x + cs * v.z] }
            func toWorld(_ v: SIMD3<Float>) -> SIMD3<Float> { [cs * v.x + sn * v.z, v.y, -sn * v.x + cs * v.z] }
            let lo = toLocal(ro), ld = toLocal(direction)
            let half = o.size
            let minB = SIMD3<Float>(-half, 0, -half), maxB = SIMD3<Float>(half, 2 * half, half)
            var tNear = -Float.infinity, tFar = Float.infinity
            var axis = 0
            var sign: Float = 1
            for k in 0..<3 {
                if abs(ld[k]) < 1e-8 {
                    if lo[k] < minB[k] || lo[k] > maxB[k] { return nil }
                    continue
                }
                var t1 = (minB[k] - lo[k]) / ld[k], t2 = (maxB[k] - lo[k]) / ld[k]
                var s: Float = -1
                if t1 > t2 { swap(&t1, &t2); s = 1 }
                if t1 > tNear { tNear = t1; axis = k; sign = s }
                tFar = min(tFar, t2)
            }
            guard tNear <= tFar, tNear > 1e-4 else { return nil }
            var n = SIMD3<Float>(0, 0, 0)
            n[axis] = sign
            return (tNear, toWorld(n))
        case .cylinder:
            let r = o.size, h = o.height
            var best: (Float, SIMD3<Float>)? = nil
            let a = direction.x * direction.x + direction.z * direction.z
            if a > 1e-8 {
                let b = ro.x * direction.x + ro.z * direction.z
                let c = ro.x * ro.x + ro.z * ro.z - r * r
                let disc = b * b - a * c
                if disc >= 0 {
                    let t = (-b - disc.squareRoot()) / a
                    let y = ro.y + t * direction.y
                    if t > 1e-4 && y >= 0 && y <= h {
                        let p = ro + direction * t
                        best = (t, SIMD3<Float>(p.x, 0, p.z) / r)
                    }
                }
            }
            if abs(direction.y) > 1e-8 {
                let t = (h - ro.y) / direction.y
                let p = ro + direction * t
                if t > 1e-4 && p.x * p.x + p.z * p.z <= r * r && (best == nil || t < best!.0) { best = (t, [0, 1, 0]) }
            }
            return best
        case .cone:
            // Apex at height h; radius r at the base: x² + z² = (r/h)²·(h − y)².
            let r = o.size, h = o.height
            let k = (r / h) * (r / h)
            let yy = ro.y - h
            let a = direction.x * direction.x + direction.z * direction.z - k * direction.y * direction.y
            let b = ro.x * direction.x + ro.z * direction.z - k * yy * direction.y
            let c = ro.x * ro.x + ro.z * ro.z - k * yy * yy
            var best: (Float, SIMD3<Float>)? = nil
            if abs(a) > 1e-8 {
                let disc = b * b - a * c
                if disc >= 0 {
                    let sq = disc.squareRoot()
                    for t in [(-b - sq) / a, (-b + sq) / a].sorted() where t > 1e-4 {
                        let y = ro.y + t * direction.y
                        if y >= 0 && y <= h {
                            let p = ro + direction * t
                            let radial = (p.x * p.x + p.z * p.z).squareRoot()
                            best = (t, normalize(SIMD3<Float>(p.x, radial * r / h, p.z)))
                            break
                        }
                    }
                }
            }
            if abs(direction.y) > 1e-8 {
                let t = -ro.y / direction.y
                let p = ro + direction * t
                if t > 1e-4 && p.x * p.x + p.z * p.z <= r * r && (best == nil || t < best!.0) { best = (t, [0, -1, 0]) }
            }
            return best
        }
    }

    // MARK: Ground textures (smooth value noise; bricks as a soft pattern)

    /// Ground colour at (x, z); patterns fade to their mean with `distance`, so far ground stays
    /// smooth instead of aliasing at small image sizes.
    func groundAlbedo(_ x: Float, _ z: Float, distance: Float) -> SIMD3<Float> {
        switch scene.ground {
        case .grass:
            let n = Self.noise(x * 0.9, z * 0.9) * 0.6 + Self.noise(x * 2.3 + 7, z * 2.3) * 0.4
            return SIMD3<Float>(0.16, 0.45, 0.12) * (0.75 + 0.5 * n)
        case .sand:
            let ripple = 0.5 + 0.5 * Foundation.sin(x * 3.1 + 1.6 * Self.noise(x * 0.5, z * 0.5) * 3)
            return SIMD3<Float>(0.86, 0.74, 0.5) * (0.88 + 0.12 * ripple)
        case .water:
            let wave = 0.5 + 0.5 * Foundation.sin(x * 1.7 + z * 0.9 + 2 * Self.noise(x * 0.4, z * 0.4))
            return SIMD3<Float>(0.08, 0.3, 0.5) * (0.8 + 0.3 * wave)
        case .snow:
            let n = Self.noise(x * 0.7, z * 0.7)
            return SIMD3<Float>(0.9, 0.93, 0.97) * (0.93 + 0.07 * n)
        case .bricks:
            let row = (z / 0.35).rounded(.down)
            let offset: Float = Int(row) % 2 == 0 ? 0 : 0.35
            let u = (x + offset) / 0.7 - ((x + offset) / 0.7).rounded(.down)
            let v = z / 0.35 - row
            let edge = min(min(u, 1 - u) * 0.7 / 0.04, min(v, 1 - v) * 0.35 / 0.04)
            let mortar = max(0, min(1, edge))
            let column = ((x + offset) / 0.7).rounded(.down)
            let tint = 0.85 + 0.3 * Self.hash(Int32(column), Int32(row))
            let brick = SIMD3<Float>(0.6, 0.25, 0.18) * tint
            let detailed = brick * mortar + SIMD3<Float>(0.7, 0.68, 0.62) * (1 - mortar)
            let mean = SIMD3<Float>(0.6, 0.3, 0.22)
            let detail = max(0, min(1, 1 - (distance - 4) / 5))
            return detailed * detail + mean * (1 - detail)
        }
    }

    @inline(__always) static func hash(_ i: Int32, _ j: Int32) -> Float {
        var h = UInt32(bitPattern: i &* 374_761_393 &+ j &* 668_265_263)
        h = (h ^ (h >> 13)) &* 1_274_126_177
        h ^= h >> 16
        return Float(h & 0xFFFF) / 65535
    }

    /// Smooth value noise in [0, 1].
    @inline(__always) static func noise(_ x: Float, _ z: Float) -> Float {
        let xi = x.rounded(.down), zi = z.rounded(.down)
        let fx = x - xi, fz = z - zi
        let (i, j) = (Int32(xi), Int32(zi))
        let sx = fx * fx * (3 - 2 * fx), sz = fz * fz * (3 - 2 * fz)
        let a = hash(i, j), b = hash(i &+ 1, j), c = hash(i, j &+ 1), d = hash(i &+ 1, j &+ 1)
        return (a * (1 - sx) + b * sx) * (1 - sz) + (c * (1 - sx) + d * sx) * sz
    }
}
