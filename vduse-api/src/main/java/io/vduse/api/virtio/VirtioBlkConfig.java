package io.vduse.api.virtio;

import static io.vduse.api.Layouts.LE16;
import static io.vduse.api.Layouts.LE32;
import static io.vduse.api.Layouts.LE64;
import static io.vduse.api.Layouts.U8;
import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;

/**
 * {@code struct virtio_blk_config}: the virtio-blk config space (virtio 1.2, 5.2.4), packed and
 * little-endian. Each field is valid only with its feature bit.
 *
 * <pre>
 *  0 le64 capacity                    in 512-byte sectors, always
 *  8 le32 size_max                    F_SIZE_MAX
 * 12 le32 seg_max                     F_SEG_MAX
 * 16 le16 geometry.cylinders          F_GEOMETRY
 * 18 u8   geometry.heads
 * 19 u8   geometry.sectors
 * 20 le32 blk_size                    F_BLK_SIZE
 * 24 u8   physical_block_exp          F_TOPOLOGY
 * 25 u8   alignment_offset
 * 26 le16 min_io_size
 * 28 le32 opt_io_size
 * 32 u8   wce                         F_CONFIG_WCE
 * 33 u8   unused
 * 34 le16 num_queues                  F_MQ
 * 36 le32 max_discard_sectors         F_DISCARD
 * 40 le32 max_discard_seg
 * 44 le32 discard_sector_alignment
 * 48 le32 max_write_zeroes_sectors    F_WRITE_ZEROES
 * 52 le32 max_write_zeroes_seg
 * 56 u8   write_zeroes_may_unmap
 * 57 u8   unused1[3]
 * 60 le32 max_secure_erase_sectors    F_SECURE_ERASE
 * 64 le32 max_secure_erase_seg
 * 68 le32 secure_erase_sector_alignment
 * </pre>
 *
 * @param capacity size in 512-byte sectors
 * @param sizeMax largest segment, bytes
 * @param segMax most segments per request
 * @param cylinders legacy geometry
 * @param heads legacy geometry
 * @param sectors legacy geometry
 * @param blkSize logical block size, bytes
 * @param physicalBlockExp log2 of physical blocks per logical block
 * @param alignmentOffset offset of the first aligned logical block
 * @param minIoSize suggested minimum I/O size, logical blocks
 * @param optIoSize optimal I/O size, logical blocks
 * @param wce write-back cache enabled
 * @param numQueues number of request queues
 * @param maxDiscardSectors most sectors per discard segment
 * @param maxDiscardSeg most discard segments per request
 * @param discardSectorAlignment discard alignment, sectors
 * @param maxWriteZeroesSectors most sectors per write-zeroes segment
 * @param maxWriteZeroesSeg most write-zeroes segments per request
 * @param writeZeroesMayUnmap whether write-zeroes may deallocate
 * @param maxSecureEraseSectors most sectors per secure-erase segment
 * @param maxSecureEraseSeg most secure-erase segments per request
 * @param secureEraseSectorAlignment secure-erase alignment, sectors
 */
public record VirtioBlkConfig(
        long capacity,
        int sizeMax,
        int segMax,
        int cylinders,
        int heads,
        int sectors,
        int blkSize,
        int physicalBlockExp,
        int alignmentOffset,
        int minIoSize,
        int optIoSize,
        int wce,
        int numQueues,
        int maxDiscardSectors,
        int maxDiscardSeg,
        int discardSectorAlignment,
        int maxWriteZeroesSectors,
        int maxWriteZeroesSeg,
        int writeZeroesMayUnmap,
        int maxSecureEraseSectors,
        int maxSecureEraseSeg,
        int secureEraseSectorAlignment) {

    /** The config space, 72 bytes. */
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            LE64.withName("capacity"),
            LE32.withName("size_max"),
            LE32.withName("seg_max"),
            MemoryLayout.structLayout(
                    LE16.withName("cylinders"),
                    U8.withName("heads"),
                    U8.withName("sectors")).withName("geometry"),
            LE32.withName("blk_size"),
            U8.withName("physical_block_exp"),
            U8.withName("alignment_offset"),
            LE16.withName("min_io_size"),
            LE32.withName("opt_io_size"),
            U8.withName("wce"),
            U8.withName("unused"),
            LE16.withName("num_queues"),
            LE32.withName("max_discard_sectors"),
            LE32.withName("max_discard_seg"),
            LE32.withName("discard_sector_alignment"),
            LE32.withName("max_write_zeroes_sectors"),
            LE32.withName("max_write_zeroes_seg"),
            U8.withName("write_zeroes_may_unmap"),
            MemoryLayout.sequenceLayout(3, U8).withName("unused1"),
            LE32.withName("max_secure_erase_sectors"),
            LE32.withName("max_secure_erase_seg"),
            LE32.withName("secure_erase_sector_alignment"))
            .withName("virtio_blk_config");

    /** Size of the config space. */
    public static final long SIZE = LAYOUT.byteSize();

    /** Offset of {@code capacity}: what a resize rewrites. */
    public static final long CAPACITY = offset("capacity");
    /** Offset of {@code size_max}. */
    public static final long SIZE_MAX = offset("size_max");
    /** Offset of {@code seg_max}. */
    public static final long SEG_MAX = offset("seg_max");
    /** Offset of {@code geometry.cylinders}. */
    public static final long CYLINDERS = LAYOUT.byteOffset(groupElement("geometry"), groupElement("cylinders"));
    /** Offset of {@code geometry.heads}. */
    public static final long HEADS = LAYOUT.byteOffset(groupElement("geometry"), groupElement("heads"));
    /** Offset of {@code geometry.sectors}. */
    public static final long SECTORS = LAYOUT.byteOffset(groupElement("geometry"), groupElement("sectors"));
    /** Offset of {@code blk_size}. */
    public static final long BLK_SIZE = offset("blk_size");
    /** Offset of {@code physical_block_exp}. */
    public static final long PHYSICAL_BLOCK_EXP = offset("physical_block_exp");
    /** Offset of {@code alignment_offset}. */
    public static final long ALIGNMENT_OFFSET = offset("alignment_offset");
    /** Offset of {@code min_io_size}. */
    public static final long MIN_IO_SIZE = offset("min_io_size");
    /** Offset of {@code opt_io_size}. */
    public static final long OPT_IO_SIZE = offset("opt_io_size");
    /** Offset of {@code wce}. */
    public static final long WCE = offset("wce");
    /** Offset of {@code num_queues}. */
    public static final long NUM_QUEUES = offset("num_queues");
    /** Offset of {@code max_discard_sectors}. */
    public static final long MAX_DISCARD_SECTORS = offset("max_discard_sectors");
    /** Offset of {@code max_discard_seg}. */
    public static final long MAX_DISCARD_SEG = offset("max_discard_seg");
    /** Offset of {@code discard_sector_alignment}. */
    public static final long DISCARD_SECTOR_ALIGNMENT = offset("discard_sector_alignment");
    /** Offset of {@code max_write_zeroes_sectors}. */
    public static final long MAX_WRITE_ZEROES_SECTORS = offset("max_write_zeroes_sectors");
    /** Offset of {@code max_write_zeroes_seg}. */
    public static final long MAX_WRITE_ZEROES_SEG = offset("max_write_zeroes_seg");
    /** Offset of {@code write_zeroes_may_unmap}. */
    public static final long WRITE_ZEROES_MAY_UNMAP = offset("write_zeroes_may_unmap");
    /** Offset of {@code max_secure_erase_sectors}. */
    public static final long MAX_SECURE_ERASE_SECTORS = offset("max_secure_erase_sectors");
    /** Offset of {@code max_secure_erase_seg}. */
    public static final long MAX_SECURE_ERASE_SEG = offset("max_secure_erase_seg");
    /** Offset of {@code secure_erase_sector_alignment}. */
    public static final long SECURE_ERASE_SECTOR_ALIGNMENT = offset("secure_erase_sector_alignment");

    private static long offset(String field) {
        return LAYOUT.byteOffset(groupElement(field));
    }

    /** A config with only the capacity set, for building on with the {@code with} methods. */
    public static VirtioBlkConfig ofCapacity(long capacitySectors) {
        return new VirtioBlkConfig(capacitySectors, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    }

    /** Writes the config space at the start of {@code segment}; unused bytes zeroed. */
    public void writeTo(MemorySegment segment) {
        MemorySegment s = segment.asSlice(0, SIZE);
        s.fill((byte) 0);
        s.set(LE64, CAPACITY, capacity);
        s.set(LE32, SIZE_MAX, sizeMax);
        s.set(LE32, SEG_MAX, segMax);
        s.set(LE16, CYLINDERS, (short) cylinders);
        s.set(U8, HEADS, (byte) heads);
        s.set(U8, SECTORS, (byte) sectors);
        s.set(LE32, BLK_SIZE, blkSize);
        s.set(U8, PHYSICAL_BLOCK_EXP, (byte) physicalBlockExp);
        s.set(U8, ALIGNMENT_OFFSET, (byte) alignmentOffset);
        s.set(LE16, MIN_IO_SIZE, (short) minIoSize);
        s.set(LE32, OPT_IO_SIZE, optIoSize);
        s.set(U8, WCE, (byte) wce);
        s.set(LE16, NUM_QUEUES, (short) numQueues);
        s.set(LE32, MAX_DISCARD_SECTORS, maxDiscardSectors);
        s.set(LE32, MAX_DISCARD_SEG, maxDiscardSeg);
        s.set(LE32, DISCARD_SECTOR_ALIGNMENT, discardSectorAlignment);
        s.set(LE32, MAX_WRITE_ZEROES_SECTORS, maxWriteZeroesSectors);
        s.set(LE32, MAX_WRITE_ZEROES_SEG, maxWriteZeroesSeg);
        s.set(U8, WRITE_ZEROES_MAY_UNMAP, (byte) writeZeroesMayUnmap);
        s.set(LE32, MAX_SECURE_ERASE_SECTORS, maxSecureEraseSectors);
        s.set(LE32, MAX_SECURE_ERASE_SEG, maxSecureEraseSeg);
        s.set(LE32, SECURE_ERASE_SECTOR_ALIGNMENT, secureEraseSectorAlignment);
    }

    /** The config space as bytes, for {@code VDUSE_CREATE_DEV}. */
    public byte[] toBytes() {
        // Built in native memory and copied out, not written through MemorySegment.ofArray: a
        // device process that never makes a heap segment lets even the C1 compiler inline every
        // segment access (only one implementation of the accessors is loaded).
        MemorySegment space = Arena.ofAuto().allocate(SIZE);
        writeTo(space);
        byte[] bytes = new byte[(int) SIZE];
        MemorySegment.copy(space, ValueLayout.JAVA_BYTE, 0, bytes, 0, bytes.length);
        return bytes;
    }

    /** Reads a config space from the start of {@code segment}. */
    public static VirtioBlkConfig readFrom(MemorySegment segment) {
        return new VirtioBlkConfig(
                segment.get(LE64, CAPACITY),
                segment.get(LE32, SIZE_MAX),
                segment.get(LE32, SEG_MAX),
                Short.toUnsignedInt(segment.get(LE16, CYLINDERS)),
                Byte.toUnsignedInt(segment.get(U8, HEADS)),
                Byte.toUnsignedInt(segment.get(U8, SECTORS)),
                segment.get(LE32, BLK_SIZE),
                Byte.toUnsignedInt(segment.get(U8, PHYSICAL_BLOCK_EXP)),
                Byte.toUnsignedInt(segment.get(U8, ALIGNMENT_OFFSET)),
                Short.toUnsignedInt(segment.get(LE16, MIN_IO_SIZE)),
                segment.get(LE32, OPT_IO_SIZE),
                Byte.toUnsignedInt(segment.get(U8, WCE)),
                Short.toUnsignedInt(segment.get(LE16, NUM_QUEUES)),
                segment.get(LE32, MAX_DISCARD_SECTORS),
                segment.get(LE32, MAX_DISCARD_SEG),
                segment.get(LE32, DISCARD_SECTOR_ALIGNMENT),
                segment.get(LE32, MAX_WRITE_ZEROES_SECTORS),
                segment.get(LE32, MAX_WRITE_ZEROES_SEG),
                Byte.toUnsignedInt(segment.get(U8, WRITE_ZEROES_MAY_UNMAP)),
                segment.get(LE32, MAX_SECURE_ERASE_SECTORS),
                segment.get(LE32, MAX_SECURE_ERASE_SEG),
                segment.get(LE32, SECURE_ERASE_SECTOR_ALIGNMENT));
    }
}
