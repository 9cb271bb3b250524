#!/usr/bin/env python3
"""Writes cities.csv: one true and one false statement "The city of X is in Y." per city.

The false country of each city is drawn with a seeded generator from the other countries of
the list, so the file is reproducible: `python3 make_cities.py > cities.csv` (Python 3.8+).
Columns: statement, label (true/false), item (the city: the control task's item type),
city, country (the country named in the statement).
"""
import csv
import random
import sys

SEED = 0

# Real (city, country) pairs: large, well-known cities, at most a few per country.
CITIES = [
    ("Tokyo", "Japan"), ("Osaka", "Japan"), ("Kyoto", "Japan"),
    ("Beijing", "China"), ("Shanghai", "China"), ("Guangzhou", "China"),
    ("Mumbai", "India"), ("Delhi", "India"), ("Bangalore", "India"), ("Kolkata", "India"),
    ("Paris", "France"), ("Lyon", "France"), ("Marseille", "France"),
    ("Berlin", "Germany"), ("Munich", "Germany"), ("Hamburg", "Germany"),
    ("Madrid", "Spain"), ("Barcelona", "Spain"), ("Seville", "Spain"),
    ("Rome", "Italy"), ("Milan", "Italy"), ("Naples", "Italy"),
    ("London", "the United Kingdom"), ("Manchester", "the United Kingdom"), ("Edinburgh", "the United Kingdom"),
    ("New York", "the United States"), ("Chicago", "the United States"), ("Los Angeles", "the United States"),
    ("Houston", "the United States"),
    ("Toronto", "Canada"), ("Montreal", "Canada"), ("Vancouver", "Canada"),
    ("Mexico City", "Mexico"), ("Guadalajara", "Mexico"),
    ("São Paulo", "Brazil"), ("Rio de Janeiro", "Brazil"), ("Brasília", "Brazil"),
    ("Buenos Aires", "Argentina"), ("Córdoba", "Argentina"),
    ("Lima", "Peru"), ("Bogotá", "Colombia"), ("Medellín", "Colombia"), ("Santiago", "Chile"),
    ("Caracas", "Venezuela"), ("Havana", "Cuba"),
    ("Moscow", "Russia"), ("Saint Petersburg", "Russia"), ("Novosibirsk", "Russia"),
    ("Kyiv", "Ukraine"), ("Warsaw", "Poland"), ("Kraków", "Poland"),
    ("Prague", "the Czech Republic"), ("Vienna", "Austria"), ("Budapest", "Hungary"),
    ("Bucharest", "Romania"), ("Sofia", "Bulgaria"), ("Athens", "Greece"),
    ("Istanbul", "Turkey"), ("Ankara", "Turkey"),
    ("Amsterdam", "the Netherlands"), ("Rotterdam", "the Netherlands"),
    ("Brussels", "Belgium"), ("Lisbon", "Portugal"), ("Porto", "Portugal"),
    ("Stockholm", "Sweden"), ("Oslo", "Norway"), ("Copenhagen", "Denmark"), ("Helsinki", "Finland"),
    ("Dublin", "Ireland"), ("Zurich", "Switzerland"), ("Geneva", "Switzerland"),
    ("Cairo", "Egypt"), ("Alexandria", "Egypt"),
    ("Lagos", "Nigeria"), ("Abuja", "Nigeria"), ("Nairobi", "Kenya"),
    ("Johannesburg", "South Africa"), ("Cape Town", "South Africa"),
    ("Casablanca", "Morocco"), ("Addis Ababa", "Ethiopia"), ("Accra", "Ghana"),
    ("Tehran", "Iran"), ("Baghdad", "Iraq"), ("Riyadh", "Saudi Arabia"), ("Dubai", "the United Arab Emirates"),
    ("Karachi", "Pakistan"), ("Lahore", "Pakistan"), ("Dhaka", "Bangladesh"),
    ("Bangkok", "Thailand"), ("Hanoi", "Vietnam"), ("Ho Chi Minh City", "Vietnam"),
    ("Jakarta", "Indonesia"), ("Manila", "the Philippines"), ("Kuala Lumpur", "Malaysia"),
    ("Seoul", "South Korea"), ("Busan", "South Korea"),
    ("Sydney", "Australia"), ("Melbourne", "Australia"), ("Perth", "Australia"),
    ("Auckland", "New Zealand"),
]


def main() -> None:
    rng = random.Random(SEED)
    countries = sorted({country for _, country in CITIES})
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["statement", "label", "item", "city", "country"])
    for city, country in CITIES:
        wrong = rng.choice([c for c in countries if c != country])
        writer.writerow([f"The city of {city} is in {country}.", "true", city, city, country])
        writer.writerow([f"The city of {city} is in {wrong}.", "false", city, city, wrong])


if __name__ == "__main__":
    main()
