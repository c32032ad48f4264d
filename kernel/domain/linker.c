/*
 * linker.c - spin's loader for x86-64 relocatable ELF objects.
 *
 * An object is checked whole before anything is placed: the header, every
 * section's extent, the symbol table and its strings, and every relocation
 * (type known, symbol index in range, field inside its section).  Then the
 * allocatable sections are laid out in four page-aligned regions of one
 * mapping from the platform:
 *
 *   text  code sections, then one 8-byte PLT stub per external PLT32 target
 *   ro    constants (.rodata*, .eh_frame, notes)
 *   got   one 8-byte slot per symbol reached through the GOT
 *   data  .data*, then .bss* (zeroed)
 *
 * The mapping stays read+write until ldr_link has applied the relocations;
 * then text becomes read+execute, ro and got read-only, data stays
 * read+write, so no page is ever writable and executable at once.
 *
 * All reads of the file go through memcpy into local structs: the file's
 * tables need not be aligned, and a hostile file must not make us perform
 * an unaligned or out-of-bounds access.
 */
#include "kernel/domain/domain_priv.h"

#include "kernel/domain/domain.h"
#include "kernel/domain/elf64.h"
#include "kernel/sal/sal.h"
#include "kernel/sal/sal_loader.h"

enum region { R_NONE = 0, R_TEXT, R_RO, R_DATA, R_NREGIONS };

#define LDR_MAX_SECTIONS 4096u
#define LDR_MAX_SYMS (1u << 20)
#define LDR_MAX_NOBITS (256u << 20)   /* .bss and friends, in all */
#define LDR_PLT_STUB 8u

struct ldr_sect {
	struct elf64_shdr sh;
	uint8_t region;         /* enum region; R_NONE: not placed */
	uint64_t off;           /* inside its region */
	uintptr_t addr;         /* once the image exists */
};

struct ldr_obj {
	uint8_t *file;          /* our copy; freed by ldr_link */
	size_t len;
	struct ldr_sect *sect;
	unsigned nsect;
	unsigned symtab;        /* section index of the symbol table */
	char *strtab;           /* our copy of the symbol names */
	struct ldr_sym *syms;
	unsigned nsyms;
	unsigned ngot, nplt;
	uint64_t rlen[R_NREGIONS];  /* bytes used in each region */
	uint8_t *image;
	size_t image_len;
	size_t roff[R_NREGIONS];    /* page-aligned start of each region */
	size_t got_off, got_len;
	uint64_t plt_off;           /* inside the text region */
	bool linked;
};

static void errs(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void errs(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (!err || !n)
		return;
	va_start(ap, fmt);
	sal_vsnprintf(err, n, fmt, ap);
	va_end(ap);
}

/* a + b <= lim without overflow. */
static bool fits(uint64_t a, uint64_t b, uint64_t lim) { return a <= lim && b <= lim - a; }

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

static bool get_shdr(const uint8_t *file, size_t len, const struct elf64_ehdr *eh, unsigned i,
		     struct elf64_shdr *sh)
{
	uint64_t off = eh->e_shoff + (uint64_t)i * sizeof *sh;

	if (!fits(off, sizeof *sh, len))
		return false;
	memcpy(sh, file + off, sizeof *sh);
	return true;
}

/* A string table is usable when it lies in the file and ends with NUL:
 * then any index below its size names a terminated string. */
static bool strtab_ok(const uint8_t *file, size_t len, const struct elf64_shdr *sh)
{
	return sh->sh_type == ELF_SHT_STRTAB && sh->sh_size > 0 &&
	       fits(sh->sh_offset, sh->sh_size, len) && file[sh->sh_offset + sh->sh_size - 1] == 0;
}

static int check_header(const uint8_t *file, size_t len, struct elf64_ehdr *eh, bool want_rel,
			char *err, size_t n)
{
	if (len < sizeof *eh) {
		errs(err, n, "file too short for an ELF header (%zu bytes)", len);
		return DOM_EFORMAT;
	}
	memcpy(eh, file, sizeof *eh);
	if (eh->e_ident[0] != ELF_MAG0 || eh->e_ident[1] != 'E' || eh->e_ident[2] != 'L' ||
	    eh->e_ident[3] != 'F') {
		errs(err, n, "not an ELF file");
		return DOM_EFORMAT;
	}
	if (eh->e_ident[4] != ELF_CLASS64 || eh->e_ident[5] != ELF_DATA2LSB ||
	    eh->e_ident[6] != ELF_EV_CURRENT || eh->e_machine != ELF_EM_X86_64) {
		errs(err, n, "not a little-endian x86-64 ELF-64 file");
		return DOM_EFORMAT;
	}
	if (want_rel ? eh->e_type != ELF_ET_REL
		     : eh->e_type != ELF_ET_DYN && eh->e_type != ELF_ET_EXEC) {
		errs(err, n, "ELF type %u is not %s", eh->e_type,
		     want_rel ? "a relocatable object (.o)" : "an executable");
		return DOM_EFORMAT;
	}
	if (eh->e_shentsize != sizeof(struct elf64_shdr) || eh->e_shnum == 0 ||
	    eh->e_shnum > LDR_MAX_SECTIONS ||
	    !fits(eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(struct elf64_shdr), len) ||
	    eh->e_shstrndx >= eh->e_shnum) {
		errs(err, n, "bad section header table");
		return DOM_EFORMAT;
	}
	return DOM_OK;
}

static const char *sect_name(const struct ldr_obj *o, unsigned i)
{
	static const char none[] = "?";
	struct elf64_ehdr eh;
	struct elf64_shdr ss;

	memcpy(&eh, o->file, sizeof eh);
	if (!get_shdr(o->file, o->len, &eh, eh.e_shstrndx, &ss) || !strtab_ok(o->file, o->len, &ss) ||
	    o->sect[i].sh.sh_name >= ss.sh_size)
		return none;
	return (const char *)o->file + ss.sh_offset + o->sect[i].sh.sh_name;
}

/* Which region an allocatable section goes to, or an error. */
static int classify(struct ldr_obj *o, unsigned i, char *err, size_t n)
{
	const struct elf64_shdr *sh = &o->sect[i].sh;

	if (!(sh->sh_flags & ELF_SHF_ALLOC))
		return DOM_OK;
	if (sh->sh_flags & ELF_SHF_TLS) {
		errs(err, n, "section %s: thread-local storage is not supported", sect_name(o, i));
		return DOM_EUNSUPPORTED;
	}
	switch (sh->sh_type) {
	case ELF_SHT_PROGBITS:
	case ELF_SHT_NOBITS:
	case 7: /* SHT_NOTE */
		break;
	case ELF_SHT_INIT_ARRAY:
	case ELF_SHT_FINI_ARRAY:
	case ELF_SHT_PREINIT_ARRAY:
		errs(err, n, "section %s: constructors are not supported (use the module's init)",
		     sect_name(o, i));
		return DOM_EUNSUPPORTED;
	default:
		errs(err, n, "section %s: allocatable section of type %u is not supported",
		     sect_name(o, i), sh->sh_type);
		return DOM_EUNSUPPORTED;
	}
	if ((sh->sh_flags & ELF_SHF_WRITE) && (sh->sh_flags & ELF_SHF_EXECINSTR)) {
		errs(err, n, "section %s is both writable and executable", sect_name(o, i));
		return DOM_EUNSUPPORTED;
	}
	uint64_t al = sh->sh_addralign ? sh->sh_addralign : 1;
	if ((al & (al - 1)) || al > sal_ldr_page_size()) {
		errs(err, n, "section %s: alignment %llu", sect_name(o, i), (unsigned long long)al);
		return DOM_EFORMAT;
	}
	if (sh->sh_size == 0)
		return DOM_OK;
	enum region r = (sh->sh_flags & ELF_SHF_EXECINSTR) ? R_TEXT
			: (sh->sh_flags & ELF_SHF_WRITE)     ? R_DATA
							     : R_RO;
	uint64_t cap = sh->sh_type == ELF_SHT_NOBITS ? LDR_MAX_NOBITS : DOMAIN_MAX_OBJECT;
	if (sh->sh_size > cap || o->rlen[r] > cap) {
		errs(err, n, "section %s too large", sect_name(o, i));
		return DOM_EFORMAT;
	}
	o->sect[i].region = (uint8_t)r;
	o->sect[i].off = align_up(o->rlen[r], al);
	o->rlen[r] = o->sect[i].off + sh->sh_size;
	return DOM_OK;
}

static int load_symbols(struct ldr_obj *o, char *err, size_t n)
{
	const struct elf64_shdr *st = &o->sect[o->symtab].sh;
	struct elf64_shdr ss;

	if (st->sh_entsize != sizeof(struct elf64_sym) || st->sh_size % sizeof(struct elf64_sym) ||
	    !fits(st->sh_offset, st->sh_size, o->len) || st->sh_link >= o->nsect) {
		errs(err, n, "bad symbol table");
		return DOM_EFORMAT;
	}
	ss = o->sect[st->sh_link].sh;
	if (!strtab_ok(o->file, o->len, &ss)) {
		errs(err, n, "bad symbol string table");
		return DOM_EFORMAT;
	}
	o->nsyms = (unsigned)(st->sh_size / sizeof(struct elf64_sym));
	if (o->nsyms == 0 || o->nsyms > LDR_MAX_SYMS) {
		errs(err, n, "bad symbol count");
		return DOM_EFORMAT;
	}
	o->strtab = sal_alloc(ss.sh_size);
	o->syms = sal_calloc(o->nsyms, sizeof *o->syms);
	if (!o->strtab || !o->syms)
		return DOM_ENOMEM;
	memcpy(o->strtab, o->file + ss.sh_offset, ss.sh_size);
	for (unsigned i = 0; i < o->nsyms; i++) {
		struct elf64_sym es;
		struct ldr_sym *s = &o->syms[i];

		memcpy(&es, o->file + st->sh_offset + (uint64_t)i * sizeof es, sizeof es);
		if (es.st_name >= ss.sh_size) {
			errs(err, n, "symbol %u: name out of range", i);
			return DOM_EFORMAT;
		}
		s->name = o->strtab + es.st_name;
		s->bind = ELF_ST_BIND(es.st_info);
		s->type = ELF_ST_TYPE(es.st_info);
		if (i == 0)
			continue;
		if (s->type == ELF_STT_TLS || s->type == ELF_STT_GNU_IFUNC) {
			errs(err, n, "symbol %s: type %u is not supported", s->name, s->type);
			return DOM_EUNSUPPORTED;
		}
		if (es.st_shndx == ELF_SHN_UNDEF && !strcmp(s->name, "_GLOBAL_OFFSET_TABLE_")) {
			/* The object's own GOT: placed with the image. */
			s->defined = true;
			s->got_sym = true;
		} else if (es.st_shndx == ELF_SHN_UNDEF) {
			s->undef = s->name[0] != 0;
		} else if (es.st_shndx == ELF_SHN_ABS) {
			s->defined = true;
			s->addr = (uintptr_t)es.st_value;
		} else if (es.st_shndx == ELF_SHN_COMMON) {
			errs(err, n, "symbol %s is a common symbol (build with -fno-common)", s->name);
			return DOM_EUNSUPPORTED;
		} else if (es.st_shndx >= ELF_SHN_LORESERVE || es.st_shndx >= o->nsect) {
			errs(err, n, "symbol %s: section index %u", s->name, es.st_shndx);
			return DOM_EFORMAT;
		} else if (o->sect[es.st_shndx].region == R_NONE) {
			s->unplaced = true;
		} else {
			if (es.st_value > o->sect[es.st_shndx].sh.sh_size) {
				errs(err, n, "symbol %s lies outside its section", s->name);
				return DOM_EFORMAT;
			}
			s->defined = true;
			/* Until the image exists: section index and offset. */
			s->addr = (uintptr_t)es.st_value; /* section-relative until placed */
			s->shndx = es.st_shndx;
		}
		s->exported = s->defined && s->name[0] &&
			      (s->bind == ELF_STB_GLOBAL || s->bind == ELF_STB_WEAK) &&
			      ELF_ST_VISIBILITY(es.st_other) == ELF_STV_DEFAULT &&
			      s->type != ELF_STT_SECTION && s->type != ELF_STT_FILE;
	}
	return DOM_OK;
}

/* Fixed-width fields each relocation type writes. */
static unsigned rel_width(uint32_t type)
{
	switch (type) {
	case R_X86_64_NONE:
		return 0;
	case R_X86_64_64:
	case R_X86_64_PC64:
	case R_X86_64_GOTOFF64:
		return 8;
	case R_X86_64_PC32:
	case R_X86_64_PLT32:
	case R_X86_64_GOTPCREL:
	case R_X86_64_GOTPCRELX:
	case R_X86_64_REX_GOTPCRELX:
	case R_X86_64_32:
	case R_X86_64_32S:
	case R_X86_64_GOTPC32:
		return 4;
	default:
		return ~0u;
	}
}

static bool uses_got(uint32_t type)
{
	return type == R_X86_64_GOTPCREL || type == R_X86_64_GOTPCRELX ||
	       type == R_X86_64_REX_GOTPCRELX;
}

/* Is section i a relocation section that applies to a placed section? */
static bool applies(const struct ldr_obj *o, unsigned i)
{
	const struct elf64_shdr *sh = &o->sect[i].sh;
	return sh->sh_type == ELF_SHT_RELA && sh->sh_info < o->nsect &&
	       o->sect[sh->sh_info].region != R_NONE;
}

/* Checks every relocation and counts GOT slots and PLT stubs. */
static int scan_relocs(struct ldr_obj *o, char *err, size_t n)
{
	for (unsigned i = 0; i < o->nsect; i++) {
		const struct elf64_shdr *sh = &o->sect[i].sh;

		if (sh->sh_type == ELF_SHT_REL && sh->sh_info < o->nsect &&
		    (o->sect[sh->sh_info].sh.sh_flags & ELF_SHF_ALLOC)) {
			errs(err, n, "section %s: REL relocations (without addend) are not supported",
			     sect_name(o, i));
			return DOM_EUNSUPPORTED;
		}
		if (!applies(o, i))
			continue;
		const struct elf64_shdr *tgt = &o->sect[sh->sh_info].sh;
		if (sh->sh_entsize != sizeof(struct elf64_rela) ||
		    sh->sh_size % sizeof(struct elf64_rela) || !fits(sh->sh_offset, sh->sh_size, o->len) ||
		    sh->sh_link != o->symtab) {
			errs(err, n, "section %s: bad relocation table", sect_name(o, i));
			return DOM_EFORMAT;
		}
		if (tgt->sh_type == ELF_SHT_NOBITS && sh->sh_size) {
			errs(err, n, "section %s relocates a section without contents", sect_name(o, i));
			return DOM_EFORMAT;
		}
		for (uint64_t off = 0; off < sh->sh_size; off += sizeof(struct elf64_rela)) {
			struct elf64_rela r;

			memcpy(&r, o->file + sh->sh_offset + off, sizeof r);
			uint32_t type = ELF_R_TYPE(r.r_info), si = ELF_R_SYM(r.r_info);
			unsigned w = rel_width(type);
			if (w == ~0u) {
				errs(err, n, "relocation type %u is not supported (build with -fPIC -fno-plt)",
				     type);
				return DOM_EUNSUPPORTED;
			}
			if (si >= o->nsyms || !fits(r.r_offset, w, tgt->sh_size)) {
				errs(err, n, "section %s: relocation at %llu out of range", sect_name(o, i),
				     (unsigned long long)r.r_offset);
				return DOM_EFORMAT;
			}
			struct ldr_sym *s = &o->syms[si];
			if (type != R_X86_64_NONE && s->unplaced) {
				errs(err, n, "relocation against %s, in a section that is not loaded",
				     s->name[0] ? s->name : "a section");
				return DOM_EFORMAT;
			}
			if (type != R_X86_64_NONE && si != 0 && !s->defined && !s->undef) {
				errs(err, n, "relocation against an undefined symbol without a name");
				return DOM_EFORMAT;
			}
			if (uses_got(type) && !s->got)
				s->got = ++o->ngot;
			if (type == R_X86_64_PLT32 && s->undef && !s->plt) {
				s->plt = ++o->nplt;
				if (!s->got)
					s->got = ++o->ngot;
			}
		}
	}
	return DOM_OK;
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

int ldr_create(const void *elf, size_t len, struct ldr_obj **out, char *err, size_t n)
{
	struct elf64_ehdr eh;
	struct ldr_obj *o;
	int rc;

	*out = NULL;
	if (len > DOMAIN_MAX_OBJECT) {
		errs(err, n, "object larger than %u bytes", DOMAIN_MAX_OBJECT);
		return DOM_EFORMAT;
	}
	rc = check_header(elf, len, &eh, true, err, n);
	if (rc)
		return rc;
	o = sal_calloc(1, sizeof *o);
	if (!o)
		return DOM_ENOMEM;
	o->file = sal_alloc(len);
	o->len = len;
	o->nsect = eh.e_shnum;
	o->sect = sal_calloc(o->nsect, sizeof *o->sect);
	if (!o->file || !o->sect) {
		rc = DOM_ENOMEM;
		goto fail;
	}
	memcpy(o->file, elf, len);
	o->symtab = 0;
	for (unsigned i = 0; i < o->nsect; i++) {
		struct elf64_shdr *sh = &o->sect[i].sh;

		(void)get_shdr(o->file, len, &eh, i, sh); /* in range: checked with the header */
		if (sh->sh_type != ELF_SHT_NOBITS && sh->sh_type != ELF_SHT_NULL &&
		    !fits(sh->sh_offset, sh->sh_size, len)) {
			errs(err, n, "section %u lies outside the file", i);
			rc = DOM_EFORMAT;
			goto fail;
		}
		if (sh->sh_type == ELF_SHT_SYMTAB) {
			if (o->symtab) {
				errs(err, n, "more than one symbol table");
				rc = DOM_EFORMAT;
				goto fail;
			}
			o->symtab = i;
		}
		if (sh->sh_type == ELF_SHT_GROUP) {
			errs(err, n, "section groups (COMDAT) are not supported");
			rc = DOM_EUNSUPPORTED;
			goto fail;
		}
	}
	if (!o->symtab) {
		errs(err, n, "no symbol table");
		rc = DOM_EFORMAT;
		goto fail;
	}
	for (unsigned i = 1; i < o->nsect; i++)
		if ((rc = classify(o, i, err, n)))
			goto fail;
	if ((rc = load_symbols(o, err, n)) || (rc = scan_relocs(o, err, n)))
		goto fail;

	/* PLT stubs after the code; the GOT in its own pages. */
	o->plt_off = align_up(o->rlen[R_TEXT], 16);
	o->rlen[R_TEXT] = o->plt_off + (uint64_t)o->nplt * LDR_PLT_STUB;
	size_t ps = sal_ldr_page_size(), at = 0;
	o->roff[R_TEXT] = at;
	at += align_up(o->rlen[R_TEXT], ps);
	o->roff[R_RO] = at;
	at += align_up(o->rlen[R_RO], ps);
	o->got_off = at;
	o->got_len = align_up((uint64_t)o->ngot * 8, ps);
	at += o->got_len;
	o->roff[R_DATA] = at;
	at += align_up(o->rlen[R_DATA], ps);
	if (at == 0)
		at = ps;
	o->image_len = at;
	o->image = sal_ldr_map(at);
	if (!o->image) {
		errs(err, n, "no memory for a %zu-byte image", at);
		rc = DOM_ENOMEM;
		goto fail;
	}
	for (unsigned i = 1; i < o->nsect; i++) {
		struct ldr_sect *s = &o->sect[i];

		if (s->region == R_NONE)
			continue;
		s->addr = (uintptr_t)o->image + o->roff[s->region] + s->off;
		if (s->sh.sh_type != ELF_SHT_NOBITS)
			memcpy((void *)s->addr, o->file + s->sh.sh_offset, s->sh.sh_size);
	}
	for (unsigned i = 1; i < o->nsyms; i++) {
		struct ldr_sym *s = &o->syms[i];
		if (s->defined && s->shndx)
			s->addr += o->sect[s->shndx].addr;
		if (s->got_sym)
			s->addr = (uintptr_t)o->image + o->got_off;
	}
	*out = o;
	return DOM_OK;
fail:
	ldr_free(o);
	return rc;
}

static uintptr_t sym_value(const struct ldr_sym *s)
{
	if (s->defined)
		return s->addr;
	if (s->undef && s->bound)
		return s->addr;
	return 0;               /* the null symbol, or an unbound weak one */
}

/* The psABI's GOTPCRELX relaxation, done as a static linker does it: when
 * the symbol's final address is within reach of a 32-bit displacement, an
 * indirect call through the GOT becomes a direct call (ff 15 -> 67 e8; the
 * address-size prefix keeps the instruction's length) and a load of the
 * address from the GOT becomes an lea of it (8b -> 8d).  A call into another
 * domain then costs what a call into another translation unit does, instead
 * of an extra load.  The GOT slot stays filled, so code that was not relaxed
 * still works.  Returns false, changing nothing, when it does not apply. */
static bool relax_gotpcrelx(const struct elf64_rela *r, const struct ldr_sym *s,
			    uint8_t *where, uint64_t P, int64_t A)
{
	if (r->r_offset < 2 || !(s->defined || (s->undef && s->bound)))
		return false;
	uint64_t v = sym_value(s) + (uint64_t)A - P;
	if ((int64_t)v != (int32_t)v)
		return false;
	uint8_t *op = where - 2;
	if (op[0] == 0xff && op[1] == 0x15) {           /* call *sym@GOTPCREL(%rip) */
		op[0] = 0x67;
		op[1] = 0xe8;
	} else if (op[0] == 0x8b && (op[1] & 0xc7) == 0x05) { /* mov sym@GOTPCREL(%rip), %r */
		op[0] = 0x8d;
	} else {
		return false;
	}
	put32(where, (uint32_t)v);
	return true;
}

static int apply_one(struct ldr_obj *o, const struct ldr_sect *tgt, const struct elf64_rela *r,
		     char *err, size_t n)
{
	uint32_t type = ELF_R_TYPE(r->r_info);
	const struct ldr_sym *s = &o->syms[ELF_R_SYM(r->r_info)];
	uint8_t *where = (uint8_t *)tgt->addr + r->r_offset;
	uint64_t P = (uint64_t)(uintptr_t)where, S = sym_value(s), v;
	int64_t A = r->r_addend;

	switch (type) {
	case R_X86_64_NONE:
		return DOM_OK;
	case R_X86_64_64:
		put64(where, S + (uint64_t)A);
		return DOM_OK;
	case R_X86_64_PC64:
		put64(where, S + (uint64_t)A - P);
		return DOM_OK;
	case R_X86_64_GOTOFF64:
		put64(where, S + (uint64_t)A - (uint64_t)(uintptr_t)(o->image + o->got_off));
		return DOM_OK;
	case R_X86_64_GOTPC32:
		v = (uint64_t)(uintptr_t)(o->image + o->got_off) + (uint64_t)A - P;
		if ((int64_t)v != (int32_t)v)
			goto range;
		put32(where, (uint32_t)v);
		return DOM_OK;
	case R_X86_64_PLT32:
		if (s->plt)
			S = (uint64_t)(uintptr_t)o->image + o->roff[R_TEXT] + o->plt_off +
			    (uint64_t)(s->plt - 1) * LDR_PLT_STUB;
		/* fall through */
	case R_X86_64_PC32:
		v = S + (uint64_t)A - P;
		if ((int64_t)v != (int32_t)v)
			goto range;
		put32(where, (uint32_t)v);
		return DOM_OK;
	case R_X86_64_GOTPCRELX:
	case R_X86_64_REX_GOTPCRELX:
		if (relax_gotpcrelx(r, s, where, P, A))
			return DOM_OK;
		/* fall through */
	case R_X86_64_GOTPCREL:
		v = (uint64_t)(uintptr_t)o->image + o->got_off + (uint64_t)(s->got - 1) * 8 +
		    (uint64_t)A - P;
		if ((int64_t)v != (int32_t)v)
			goto range;
		put32(where, (uint32_t)v);
		return DOM_OK;
	case R_X86_64_32:
		v = S + (uint64_t)A;
		if (v > UINT32_MAX)
			goto range;
		put32(where, (uint32_t)v);
		return DOM_OK;
	case R_X86_64_32S:
		v = S + (uint64_t)A;
		if ((int64_t)v != (int32_t)v)
			goto range;
		put32(where, (uint32_t)v);
		return DOM_OK;
	}
	errs(err, n, "relocation type %u is not supported", type);
	return DOM_EUNSUPPORTED;
range:
	errs(err, n, "relocation type %u against %s does not fit its field "
	     "(build extensions with -fPIC -fno-plt)", type, s->name[0] ? s->name : "a section");
	return DOM_ERANGE;
}

int ldr_link(struct ldr_obj *o, char *err, size_t n)
{
	size_t ps = sal_ldr_page_size();
	uint8_t *got = o->image + o->got_off;
	int rc;

	if (o->linked)
		return DOM_ESTATE;
	for (unsigned i = 1; i < o->nsyms; i++) {
		const struct ldr_sym *s = &o->syms[i];
		uint8_t *stub;
		uint64_t d;

		if (s->got)
			put64(got + (size_t)(s->got - 1) * 8, sym_value(s));
		if (!s->plt)
			continue;
		/* jmp *slot(%rip); int3; int3 */
		stub = o->image + o->roff[R_TEXT] + o->plt_off + (size_t)(s->plt - 1) * LDR_PLT_STUB;
		d = (uint64_t)(uintptr_t)(got + (size_t)(s->got - 1) * 8) - (uint64_t)(uintptr_t)(stub + 6);
		stub[0] = 0xff;
		stub[1] = 0x25;
		put32(stub + 2, (uint32_t)d);
		stub[6] = stub[7] = 0xcc;
	}
	for (unsigned i = 0; i < o->nsect; i++) {
		if (!applies(o, i))
			continue;
		const struct elf64_shdr *sh = &o->sect[i].sh;
		const struct ldr_sect *tgt = &o->sect[sh->sh_info];
		for (uint64_t off = 0; off < sh->sh_size; off += sizeof(struct elf64_rela)) {
			struct elf64_rela r;

			memcpy(&r, o->file + sh->sh_offset + off, sizeof r);
			if ((rc = apply_one(o, tgt, &r, err, n)))
				return rc;
		}
	}
	if ((o->rlen[R_TEXT] &&
	     sal_ldr_protect(o->image + o->roff[R_TEXT], align_up(o->rlen[R_TEXT], ps),
			     SAL_LDR_READ | SAL_LDR_EXEC)) ||
	    (o->rlen[R_RO] &&
	     sal_ldr_protect(o->image + o->roff[R_RO], align_up(o->rlen[R_RO], ps), SAL_LDR_READ)) ||
	    (o->got_len && sal_ldr_protect(got, o->got_len, SAL_LDR_READ))) {
		errs(err, n, "the platform refused to seal the image");
		return DOM_ENOMEM;
	}
	sal_free(o->file);
	o->file = NULL;
	sal_free(o->sect);
	o->sect = NULL;
	o->linked = true;
	return DOM_OK;
}

void ldr_free(struct ldr_obj *o)
{
	if (!o)
		return;
	sal_ldr_unmap(o->image, o->image_len);
	sal_free(o->file);
	sal_free(o->sect);
	sal_free(o->strtab);
	sal_free(o->syms);
	sal_free(o);
}

struct ldr_sym *ldr_syms(struct ldr_obj *o, unsigned *n)
{
	*n = o->nsyms;
	return o->syms;
}

bool ldr_linked(const struct ldr_obj *o) { return o->linked; }
size_t ldr_image_size(const struct ldr_obj *o) { return o->image_len; }

bool ldr_contains(const struct ldr_obj *o, const void *addr)
{
	uintptr_t a = (uintptr_t)addr, b = (uintptr_t)o->image;
	return a >= b && a - b < o->image_len;
}

/* --- the kernel image ------------------------------------------------------ */
static int isym_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ldr_isym *)a)->name, ((const struct ldr_isym *)b)->name);
}

int ldr_image_symbols(const void *buf, size_t len, struct ldr_isym **out, unsigned *nout)
{
	const uint8_t *file = buf;
	struct elf64_ehdr eh;
	struct elf64_shdr sh, ss;
	unsigned found = 0, n = 0, cap;
	struct ldr_isym *v;

	*out = NULL;
	*nout = 0;
	if (check_header(file, len, &eh, false, NULL, 0))
		return DOM_EFORMAT;
	/* The full table if the image has one, the dynamic one otherwise. */
	for (unsigned want = ELF_SHT_SYMTAB; !found && want <= 11; want += 9)
		for (unsigned i = 0; i < eh.e_shnum && !found; i++)
			if (get_shdr(file, len, &eh, i, &sh) && sh.sh_type == want)
				found = i;
	if (!found || sh.sh_entsize != sizeof(struct elf64_sym) ||
	    !fits(sh.sh_offset, sh.sh_size, len) || sh.sh_link >= eh.e_shnum ||
	    !get_shdr(file, len, &eh, sh.sh_link, &ss) || !strtab_ok(file, len, &ss))
		return DOM_ENOENT;
	cap = (unsigned)(sh.sh_size / sizeof(struct elf64_sym));
	v = sal_calloc(cap ? cap : 1, sizeof *v);
	if (!v)
		return DOM_ENOMEM;
	for (unsigned i = 1; i < cap; i++) {
		struct elf64_sym es;
		unsigned bind, type;

		memcpy(&es, file + sh.sh_offset + (uint64_t)i * sizeof es, sizeof es);
		bind = ELF_ST_BIND(es.st_info);
		type = ELF_ST_TYPE(es.st_info);
		if ((bind != ELF_STB_GLOBAL && bind != ELF_STB_WEAK) || es.st_shndx == ELF_SHN_UNDEF ||
		    (type != ELF_STT_FUNC && type != ELF_STT_OBJECT && type != ELF_STT_NOTYPE) ||
		    es.st_name == 0 || es.st_name >= ss.sh_size ||
		    ELF_ST_VISIBILITY(es.st_other) != ELF_STV_DEFAULT)
			continue;
		v[n++] = (struct ldr_isym){.name = (const char *)file + ss.sh_offset + es.st_name,
					   .value = es.st_value};
	}
	ldr_sort(v, n, sizeof *v, isym_cmp);
	*out = v;
	*nout = n;
	return DOM_OK;
}

static void swap_bytes(uint8_t *a, uint8_t *b, size_t size)
{
	while (size--) {
		uint8_t t = *a;
		*a++ = *b;
		*b++ = t;
	}
}

static void sift(uint8_t *base, size_t root, size_t n, size_t size,
		 int (*cmp)(const void *, const void *))
{
	for (;;) {
		size_t c = 2 * root + 1;
		if (c >= n)
			return;
		if (c + 1 < n && cmp(base + c * size, base + (c + 1) * size) < 0)
			c++;
		if (cmp(base + root * size, base + c * size) >= 0)
			return;
		swap_bytes(base + root * size, base + c * size, size);
		root = c;
	}
}

void ldr_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	uint8_t *b = base;

	if (n < 2)
		return;
	for (size_t i = n / 2; i-- > 0;)
		sift(b, i, n, size, cmp);
	for (size_t end = n - 1; end > 0; end--) {
		swap_bytes(b, b + end * size, size);
		sift(b, 0, end, size, cmp);
	}
}
