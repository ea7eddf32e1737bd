//! Helpers for demo data: a small deterministic generator (the same seed
//! gives the same data, so benchmarks are repeatable) and Chilean names and
//! places.

/// xorshift64*: fast, deterministic, not for secrets.
pub struct DemoRng(u64);

impl DemoRng {
    pub fn new(seed: u64) -> Self {
        DemoRng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `low..=high`.
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low + 1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let i = usize::try_from(self.next_u64() % items.len() as u64).unwrap_or(0);
        &items[i]
    }
}

pub const FIRST_NAMES: &[&str] = &[
    "Camila",
    "Valentina",
    "Francisca",
    "Javiera",
    "Catalina",
    "Constanza",
    "Fernanda",
    "Martina",
    "Josefa",
    "Antonia",
    "Matías",
    "Benjamín",
    "Vicente",
    "Martín",
    "Sebastián",
    "Tomás",
    "Joaquín",
    "Diego",
    "Felipe",
    "Cristóbal",
    "Ignacio",
    "Nicolás",
    "Sofía",
    "Isidora",
    "Agustín",
    "Florencia",
    "Maximiliano",
    "Amanda",
    "Gaspar",
    "Trinidad",
];

pub const LAST_NAMES: &[&str] = &[
    "González",
    "Muñoz",
    "Rojas",
    "Díaz",
    "Pérez",
    "Soto",
    "Contreras",
    "Silva",
    "Martínez",
    "Sepúlveda",
    "Morales",
    "Rodríguez",
    "López",
    "Fuentes",
    "Hernández",
    "Torres",
    "Araya",
    "Flores",
    "Espinoza",
    "Valenzuela",
    "Castillo",
    "Tapia",
    "Reyes",
    "Gutiérrez",
    "Castro",
    "Pizarro",
    "Álvarez",
    "Vásquez",
    "Sánchez",
    "Fernández",
];

pub const BUSINESSES: &[&str] = &[
    "Ferretería",
    "Comercial",
    "Distribuidora",
    "Panadería",
    "Minimarket",
    "Bazar",
    "Constructora",
    "Librería",
    "Farmacia",
    "Botillería",
    "Transportes",
    "Importadora",
    "Maderas",
    "Agrícola",
    "Servicios",
];

pub const LEGAL_FORMS: &[&str] = &["SpA", "Ltda.", "EIRL", "S.A."];

/// (comuna, city)
pub const COMUNAS: &[(&str, &str)] = &[
    ("Santiago", "Santiago"),
    ("Providencia", "Santiago"),
    ("Ñuñoa", "Santiago"),
    ("Las Condes", "Santiago"),
    ("Maipú", "Santiago"),
    ("La Florida", "Santiago"),
    ("Puente Alto", "Santiago"),
    ("Quilicura", "Santiago"),
    ("San Bernardo", "Santiago"),
    ("Pudahuel", "Santiago"),
    ("Valparaíso", "Valparaíso"),
    ("Viña del Mar", "Viña del Mar"),
    ("Concepción", "Concepción"),
    ("Talcahuano", "Talcahuano"),
    ("Temuco", "Temuco"),
    ("Rancagua", "Rancagua"),
    ("Talca", "Talca"),
    ("Antofagasta", "Antofagasta"),
    ("La Serena", "La Serena"),
    ("Coquimbo", "Coquimbo"),
    ("Puerto Montt", "Puerto Montt"),
    ("Iquique", "Iquique"),
    ("Arica", "Arica"),
    ("Chillán", "Chillán"),
    ("Los Ángeles", "Los Ángeles"),
    ("Osorno", "Osorno"),
    ("Valdivia", "Valdivia"),
    ("Calama", "Calama"),
    ("Punta Arenas", "Punta Arenas"),
    ("Copiapó", "Copiapó"),
];

pub const STREETS: &[&str] = &[
    "Av. Libertador Bernardo O'Higgins",
    "Av. Providencia",
    "Av. Apoquindo",
    "Los Carrera",
    "San Martín",
    "Arturo Prat",
    "Manuel Montt",
    "Irarrázaval",
    "Av. Matta",
    "Gran Avenida",
    "Colón",
    "Baquedano",
    "Freire",
    "Maipú",
    "Chacabuco",
];

/// ASCII lower-case of a name, for emails.
pub fn slug(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            'á' | 'Á' => Some('a'),
            'é' | 'É' => Some('e'),
            'í' | 'Í' => Some('i'),
            'ó' | 'Ó' => Some('o'),
            'ú' | 'Ú' | 'ü' => Some('u'),
            'ñ' | 'Ñ' => Some('n'),
            c if c.is_ascii_alphanumeric() => Some(c.to_ascii_lowercase()),
            ' ' | '-' => Some('.'),
            _ => None,
        })
        .collect()
}
