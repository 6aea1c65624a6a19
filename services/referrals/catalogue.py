"""The route catalogue as the source documents describe it (PRODUCT.md section 1).

Reference data, upserted by ``ruta migrate``: a new programme here reaches every database
on the next deployment; an admin's later edits through the API are kept (insert-only).
"""

from __future__ import annotations

from typing import Any

PE_REGIONS = ["PE-LMA", "PE-CAL", "PE-CUS", "PE-LAL", "PE-LAM", "PE-PIU"]
EC_REGIONS = ["EC-P", "EC-G", "EC-A", "EC-M", "EC-SD", "EC-T", "EC-O"]
EC_EMPRENDE = ["EC-P", "EC-G", "EC-A", "EC-M", "EC-SD"]

PROGRAMMES: list[dict[str, Any]] = [
    {"id": "pe-empleo", "route_type": "public_employment_service", "country": "PE",
     "name": "Centro de Empleo — Servicio Público de Empleo",
     "name_en": "Employment Centre — Public Employment Service",
     "operator": "Ministerio de Trabajo y Promoción del Empleo (MTPE)", "regions": PE_REGIONS},
    {"id": "pe-sunedu-reconocimiento", "route_type": "degree_recognition", "country": "PE",
     "name": "Reconocimiento de grados y títulos extranjeros (SUNEDU)",
     "name_en": "Foreign degree recognition (SUNEDU)",
     "operator": "SUNEDU", "regions": PE_REGIONS},
    {"id": "pe-revalidacion", "route_type": "degree_recognition", "country": "PE",
     "name": "Revalidación de título en universidad licenciada",
     "name_en": "Degree revalidation at a licensed university",
     "operator": "Universidades licenciadas", "regions": PE_REGIONS},
    {"id": "pe-enam", "route_type": "professional_licensing", "country": "PE",
     "name": "Examen Nacional de Medicina (ENAM)", "name_en": "National Medical Exam (ENAM)",
     "operator": "ASPEFAM", "regions": PE_REGIONS},
    {"id": "pe-colegio-medico", "route_type": "professional_licensing", "country": "PE",
     "name": "Colegiatura y habilitación — Colegio Médico del Perú",
     "name_en": "Registration and licence — Medical College of Peru",
     "operator": "Colegio Médico del Perú", "regions": PE_REGIONS},
    {"id": "pe-colegio-enfermeros", "route_type": "professional_licensing", "country": "PE",
     "name": "Colegiatura — Colegio de Enfermeros del Perú",
     "name_en": "Registration — Nursing College of Peru",
     "operator": "Colegio de Enfermeros del Perú", "regions": PE_REGIONS},
    {"id": "pe-emprende-segura", "route_type": "entrepreneurship", "country": "PE",
     "name": "Emprende Segur@", "name_en": "Emprende Segur@ (entrepreneurship)",
     "operator": "OIT / socios", "regions": PE_REGIONS},
    {"id": "pe-certificacion-competencias", "route_type": "skills_certification",
     "country": "PE", "name": "Certificación de competencias laborales (MTPE)",
     "name_en": "Occupational skills certification (MTPE)",
     "operator": "MTPE — Programa Nacional para la Empleabilidad", "regions": PE_REGIONS},
    {"id": "ec-socio-empleo", "route_type": "public_employment_service", "country": "EC",
     "name": "Red Socio Empleo", "name_en": "Socio Empleo network",
     "operator": "Ministerio del Trabajo", "regions": EC_REGIONS},
    {"id": "ec-senescyt-registro", "route_type": "degree_recognition", "country": "EC",
     "name": "Registro de títulos extranjeros (SENESCYT)",
     "name_en": "Foreign degree registration (SENESCYT)",
     "operator": "SENESCYT", "regions": EC_REGIONS},
    {"id": "ec-acess-licencia", "route_type": "professional_licensing", "country": "EC",
     "name": "Habilitación profesional de salud (ACESS)",
     "name_en": "Health professional licensing (ACESS)",
     "operator": "ACESS / SENESCYT", "regions": EC_REGIONS},
    {"id": "ec-emprende-segura", "route_type": "entrepreneurship", "country": "EC",
     "name": "Emprende Segur@", "name_en": "Emprende Segur@ (entrepreneurship)",
     "operator": "OIT / socios", "regions": EC_EMPRENDE},
    {"id": "ec-setec-certificacion", "route_type": "skills_certification", "country": "EC",
     "name": "Certificación de competencias (SETEC)",
     "name_en": "Skills certification (SETEC)", "operator": "SETEC", "regions": EC_REGIONS},
]
